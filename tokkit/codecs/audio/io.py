"""Audio file I/O for the codec: read any soundfile format as mono at the model rate, write wav atomically."""

from __future__ import annotations

import io
import os
from math import gcd
from pathlib import Path

import numpy as np

from tokkit.core.atomic import atomic_write_bytes, check_writable
from tokkit.errors import InputError, UnsupportedFormatError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
SILENCE = 1e-6  # peak below this is "all silent"


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling of float32 mono audio (scipy's resample_poly, Kaiser window)."""
    if source_rate == target_rate:
        return audio
    from scipy.signal import resample_poly

    g = gcd(int(source_rate), int(target_rate))
    return resample_poly(audio, target_rate // g, source_rate // g).astype(np.float32)


def check_audio(audio: np.ndarray, what: str) -> np.ndarray:
    """Refuse audio a codec cannot meaningfully encode: empty, one sample, NaN/inf, all silent."""
    if audio.size == 0:
        raise InputError(f"{what} holds no samples: nothing to encode")
    if audio.size < 2:
        raise InputError(f"{what} holds a single sample: too short to encode")
    if not np.all(np.isfinite(audio)):
        raise InputError(f"{what} contains NaN or infinite samples; fix or re-export the audio")
    if float(np.max(np.abs(audio))) < SILENCE:
        raise InputError(f"{what} is all silence: there is nothing to encode")
    return audio


def read_audio(path: str | os.PathLike, sample_rate: int) -> tuple[np.ndarray, int]:
    """(mono float32 samples at ``sample_rate``, the file's original rate); channels are averaged."""
    import soundfile as sf

    path = Path(path)
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except sf.LibsndfileError as exc:
        if not path.exists():
            raise InputError(f"no such file: {path}") from None
        raise UnsupportedFormatError(f"{path} is not readable audio (wav, flac or ogg): {exc}") from None
    except (OSError, RuntimeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    mono = check_audio(audio.mean(axis=1), str(path))
    return resample(mono, rate, sample_rate), int(rate)


def write_wav(path: str | os.PathLike, audio: np.ndarray, sample_rate: int, *, force: bool = False) -> None:
    """Write mono float audio as 16-bit PCM wav (flac/ogg by suffix), atomically."""
    import soundfile as sf

    path = check_writable(path, force=force)
    fmt = {".flac": "FLAC", ".ogg": "OGG"}.get(path.suffix.lower(), "WAV")
    subtype = {"FLAC": "PCM_16", "OGG": "VORBIS", "WAV": "PCM_16"}[fmt]
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), int(sample_rate), format=fmt, subtype=subtype)
    atomic_write_bytes(path, buffer.getvalue())
