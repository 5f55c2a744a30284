"""Codec2 (8 kHz) and Opus (16 kHz input, Ogg file) as anchors for speech tokenizers.

Each runs through its Debian command-line tools when present (``c2enc``/``c2dec`` of ``codec2``,
``opusenc``/``opusdec`` of ``opus-tools``), else through the ``ffmpeg`` binary's libcodec2 / libopus; byte
counts are whole files (raw Codec2 frames; Ogg Opus with its headers). Decoded audio comes back at
:data:`tokkit.analysis.metrics_audio.EVAL_RATE`.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from tokkit.analysis.classic import Coded
from tokkit.analysis.metrics_audio import EVAL_RATE
from tokkit.codecs.audio.io import Audio, resample

#: settings of the ladder: Codec2 modes (bits/s) and Opus bitrates (kbps)
CODEC2_MODES = ("700C", "1200", "1600", "2400", "3200")
OPUS_KBPS = (6, 8, 12, 16, 24)


def run(cmd: list[str]) -> None:
    """Run a codec tool; its output is captured (a failure raises CalledProcessError)."""
    subprocess.run(cmd, check=True, capture_output=True)


@functools.lru_cache(maxsize=None)
def _ffmpeg_has(codec: str) -> bool:
    if not shutil.which("ffmpeg"):
        return False
    listed = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    return any(line.split()[1:2] == [codec] for line in listed.splitlines() if line.strip())


def available() -> dict[str, str | None]:
    """Codec -> None when it can run here, else why it is skipped."""
    return {
        "Codec2": None if shutil.which("c2enc") or _ffmpeg_has("libcodec2")
        else "Codec2 needs the codec2 tools (apt-get install codec2) or an ffmpeg built with libcodec2",
        "Opus": None if shutil.which("opusenc") or _ffmpeg_has("libopus")
        else "Opus needs opus-tools (apt-get install opus-tools) or an ffmpeg built with libopus",
    }


def codec2(audio: Audio, mode: int | str, tmp: Path) -> tuple[np.ndarray, float, float, float]:
    """Codec2 at 8 kHz: (decoded at 16 kHz, bits/s, encode RTF, decode RTF)."""
    pcm = np.clip(resample(audio.samples, audio.sample_rate, 8000), -1, 1)
    (tmp / "in.raw").write_bytes((pcm * 32767).astype("<i2").tobytes())
    t0 = time.perf_counter()
    if shutil.which("c2enc"):
        run(["c2enc", str(mode), str(tmp / "in.raw"), str(tmp / "c2.bit")])
        t1 = time.perf_counter()
        run(["c2dec", str(mode), str(tmp / "c2.bit"), str(tmp / "out.raw")])
    else:
        raw = ["-f", "s16le", "-ar", "8000", "-ac", "1"]
        run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *raw, "-i", str(tmp / "in.raw"),
             "-c:a", "libcodec2", "-mode", str(mode), "-f", "codec2raw", str(tmp / "c2.bit")])
        t1 = time.perf_counter()
        run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "codec2raw", "-mode", str(mode),
             "-i", str(tmp / "c2.bit"), *raw, str(tmp / "out.raw")])
    t2 = time.perf_counter()
    out = np.frombuffer((tmp / "out.raw").read_bytes(), dtype="<i2").astype(np.float32) / 32768
    bits = (tmp / "c2.bit").stat().st_size * 8 / audio.duration
    return resample(out, 8000, EVAL_RATE), bits, (t1 - t0) / audio.duration, (t2 - t1) / audio.duration


def opus(audio: Audio, kbps: int, tmp: Path) -> tuple[np.ndarray, float, float, float]:
    """Opus at ``kbps`` from 16 kHz input: (decoded at 16 kHz, bits/s incl. Ogg, RTFs)."""
    import soundfile as sf

    sf.write(tmp / "in.wav", resample(audio.samples, audio.sample_rate, EVAL_RATE), EVAL_RATE, subtype="PCM_16")
    t0 = time.perf_counter()
    if shutil.which("opusenc"):
        run(["opusenc", "--quiet", "--bitrate", str(kbps), str(tmp / "in.wav"), str(tmp / "o.opus")])
        t1 = time.perf_counter()
        run(["opusdec", "--quiet", "--rate", str(EVAL_RATE), str(tmp / "o.opus"), str(tmp / "out.wav")])
    else:
        quiet = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
        run([*quiet, "-i", str(tmp / "in.wav"), "-c:a", "libopus", "-b:a", f"{kbps}k", "-f", "ogg", str(tmp / "o.opus")])
        t1 = time.perf_counter()
        run([*quiet, "-i", str(tmp / "o.opus"), "-ar", str(EVAL_RATE), "-ac", "1", str(tmp / "out.wav")])
    t2 = time.perf_counter()
    out, _ = sf.read(tmp / "out.wav", dtype="float32")
    bits = (tmp / "o.opus").stat().st_size * 8 / audio.duration
    return out, bits, (t1 - t0) / audio.duration, (t2 - t1) / audio.duration


def ladder(name: str, audio: Audio) -> Iterator[Coded]:
    """Every setting of ``name`` ("Codec2" or "Opus") on one clip; decoded audio at EVAL_RATE."""
    with tempfile.TemporaryDirectory(prefix="tokkit-classic-") as folder:
        for setting in (CODEC2_MODES if name == "Codec2" else OPUS_KBPS):
            coder = codec2 if name == "Codec2" else opus
            decoded, bits, encode_rtf, decode_rtf = coder(audio, setting, Path(folder))
            label = f"mode {setting}" if name == "Codec2" else f"{setting} kbps"
            yield Coded(round(bits * audio.duration / 8), decoded, label, encode_rtf * audio.duration,
                        decode_rtf * audio.duration)
