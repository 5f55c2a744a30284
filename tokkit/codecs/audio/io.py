"""Audio file I/O for the codec: read any soundfile format as mono at the model rate, write wav atomically."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tokkit.core import formats
from tokkit.core.atomic import atomic_write_bytes, check_writable
from tokkit.errors import InputError, UnsupportedFormatError

AUDIO_SUFFIXES = formats.suffixes("audio")  # one table for the reader and the default-tokenizer choice
SILENCE = 1e-6  # peak below this is "all silent"
MIN_SAMPLE_RATE = 1000  # Hz; rates outside [MIN, MAX] are refused (in files, arrays and token metadata)
MAX_SAMPLE_RATE = 768_000
READ_BLOCK = 1 << 16  # frames read at a time
MAX_RATIO_TERM = 4096  # resampling ratios are reduced to terms at most this large (see resample)


@dataclass
class Audio:
    """Mono float32 ``samples`` in [-1, 1] at ``sample_rate`` Hz (what the codec's ``decode`` returns)."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        return self.samples.size / self.sample_rate


def check_sample_rate(rate: object, what: str) -> int:
    """``rate`` as an int in [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE] Hz, or an InputError saying what is wrong."""
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise InputError(f"{what} has a sample rate of {rate!r} Hz; tokkit reads audio at {MIN_SAMPLE_RATE} to "
                         f"{MAX_SAMPLE_RATE} Hz")
    return int(rate)


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling of float32 mono audio (scipy's resample_poly, Kaiser window).

    The filter has about 20 * max(up, down) taps for the reduced ratio up/down; a ratio whose terms exceed
    ``MAX_RATIO_TERM`` (only unusual rates, e.g. 767999 Hz) is replaced by its closest fraction with
    terms that small (relative error below 1e-6), which bounds time and memory.
    """
    if source_rate == target_rate:
        return audio
    from fractions import Fraction

    from scipy.signal import resample_poly

    g = gcd(int(source_rate), int(target_rate))
    up, down = int(target_rate) // g, int(source_rate) // g
    if max(up, down) > MAX_RATIO_TERM:
        ratio = Fraction(up, down).limit_denominator(MAX_RATIO_TERM)
        up, down = ratio.numerator, ratio.denominator
    return resample_poly(audio, up, down).astype(np.float32)


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


def load_audio(source: str | os.PathLike | BinaryIO, name: str | None = None) -> Audio:
    """A wav/flac/ogg file (path or binary file object) as mono float32 :class:`Audio` at its own rate
    (channels averaged), checked for emptiness, NaN and silence."""
    import soundfile as sf

    name = name or str(source)
    if isinstance(source, (str, os.PathLike)) and not Path(source).exists():
        raise InputError(f"no such file: {name}")
    try:
        with sf.SoundFile(source if hasattr(source, "read") else str(source)) as handle:
            rate = check_sample_rate(int(handle.samplerate), name)  # before any sample is read
            # channels are averaged block by block: memory is one mono float32 copy of the audio
            blocks = [block.mean(axis=1) for block in
                      handle.blocks(blocksize=READ_BLOCK, dtype="float32", always_2d=True)]
    except sf.LibsndfileError as exc:
        raise UnsupportedFormatError(f"{name} is not readable audio (wav, flac, ogg, mp3, aiff): {exc}") from None
    except (OSError, RuntimeError, ValueError) as exc:
        raise InputError(f"cannot read {name}: {exc}") from None
    audio = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
    return Audio(check_audio(audio, name), rate)


def read_audio(path: str | os.PathLike, sample_rate: int) -> tuple[np.ndarray, int]:
    """(mono float32 samples resampled to ``sample_rate``, the file's original rate)."""
    audio = load_audio(path)
    return resample(audio.samples, audio.sample_rate, sample_rate), audio.sample_rate


def write_wav(path: str | os.PathLike, audio: np.ndarray, sample_rate: int, *, force: bool = False) -> None:
    """Write mono float audio as 16-bit PCM wav (flac/ogg by suffix), atomically."""
    import soundfile as sf

    path = check_writable(path, force=force)
    fmt = {".flac": "FLAC", ".ogg": "OGG"}.get(path.suffix.lower(), "WAV")
    subtype = {"FLAC": "PCM_16", "OGG": "VORBIS", "WAV": "PCM_16"}[fmt]
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), int(sample_rate), format=fmt, subtype=subtype)
    atomic_write_bytes(path, buffer.getvalue())


def as_audio(item: "Audio | np.ndarray | bytes", model_rate: int) -> Audio:
    """What a codec's ``encode`` accepts -> checked mono :class:`Audio`: Audio (any rate), a mono float
    array at ``model_rate``, or the bytes of an audio file."""
    if isinstance(item, (bytes, bytearray)):
        item = load_audio(io.BytesIO(item), "the input bytes")
    if not isinstance(item, Audio):
        item = Audio(item, model_rate)
    try:
        samples = np.asarray(item.samples, dtype=np.float32)
    except (TypeError, ValueError):
        raise InputError(f"audio must be Audio, a float array or audio file bytes, not {type(item.samples).__name__}") from None
    audio = item
    if samples.ndim != 1:
        raise InputError(f"audio must be mono (one dimension), got shape {samples.shape}")
    return Audio(check_audio(samples, "the audio"), audio.sample_rate)


def restore_audio(samples: np.ndarray, meta: dict, model_rate: int) -> Audio:
    """Decoded samples at ``model_rate`` -> :class:`Audio` at the rate and length the tokens' ``meta`` recorded.
    A decoder that gives fewer samples than were coded (DAC 24 kHz makes T * hop - 8, as the authors' code does)
    is padded with silence to that length, so a round trip keeps the input's length."""
    samples = _fit(samples, int(meta.get("n_samples", samples.size)))
    rate = int(meta.get("original_sample_rate", model_rate))
    if rate != model_rate:
        samples = resample(samples, model_rate, rate)
        samples = _fit(samples, int(meta.get("original_n_samples", samples.size)))
    return Audio(samples, rate)


def _fit(samples: np.ndarray, length: int) -> np.ndarray:
    """The first ``length`` samples, zeros appended where there are fewer."""
    if samples.shape[-1] >= length:
        return samples[..., :length]
    return np.concatenate([samples, np.zeros((*samples.shape[:-1], length - samples.shape[-1]), samples.dtype)], -1)
