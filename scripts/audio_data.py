"""Write the codec's training speech as 24 kHz mono wav segments (called by audio_data.sh).

Sources are Debian packages installed by the shell recipe; nothing here is downloaded.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

RATE = 24000
ASTERISK = Path("/usr/share/asterisk/sounds")
KLETTRES = Path("/usr/share/klettres")
SPEEDS = (0.88, 1.12)  # speed-perturbed copies of the asterisk speakers (shifts pitch and tempo)

SENTENCES = [
    "tokkit turns speech into a short stream of integers and back again.",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Please leave a message after the tone, and we will call you back.",
    "Seven hundred and forty two people waited for the morning train.",
    "A gentle breeze carried the smell of rain across the empty field.",
    "Could you repeat the last number slowly, one digit at a time?",
    "She sells sea shells by the sea shore on sunny afternoons.",
    "The library closes at nine, but the reading room stays open late.",
    "Numbers like three point one four one five nine are easy to hear.",
    "Every codec trades bits for quality; the trick is to lose what nobody hears.",
    "My grandmother baked bread every Sunday before church.",
    "Turn left at the second light, then keep going for two miles.",
    "Is it really going to snow in the middle of April this year?",
    "Thirty thousand feet below, the ocean looked like wrinkled glass.",
    "He whispered the answer, and the whole room burst out laughing.",
    "Scientists measured the temperature every hour for six weeks.",
]
ESPEAK_LANGS = ["en-us", "en-gb", "en-gb-scotland", "en-029", "de", "fr-fr", "es", "it", "pt-br", "nl",
                "pl", "ru", "sv", "fi", "cs", "hu", "tr", "el", "hi", "id", "ro", "da", "nb", "sk"]
ESPEAK_VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
                   "croak", "klatt", "klatt2", "klatt3", "whisper", "Alex", "Andrea", "Annie",
                   "Denis", "Henrique", "Mr serious", "adam", "anika", "john", "max", "steph"]


def resample(audio: np.ndarray, rate: int) -> np.ndarray:
    """Resample mono float audio from ``rate`` to the codec rate."""
    if rate == RATE:
        return audio
    g = gcd(RATE, rate)
    return resample_poly(audio, RATE // g, rate // g)


def write(out: Path, name: str, audio: np.ndarray) -> float:
    """Peak-normalise to a random level and write one int16 wav; returns its seconds."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < 1e-4 or audio.size < RATE // 4:
        return 0.0
    audio = audio / peak * random.uniform(0.3, 0.95)
    sf.write(out / f"{name}.wav", audio.astype(np.float32), RATE, subtype="PCM_16")
    return audio.size / RATE


def asterisk(out: Path) -> float:
    """Decode every asterisk g722 prompt (16 kHz), plus speed-perturbed copies."""
    import G722  # the PyPI ``g722`` package

    total = 0.0
    for speaker in sorted(p for p in ASTERISK.iterdir() if p.is_dir() and p.name.count("_") >= 2):
        for i, file in enumerate(sorted(speaker.rglob("*.g722"))):
            pcm = np.asarray(G722.G722(16000, 64000).decode(file.read_bytes()), dtype=np.float32) / 32768.0
            total += write(out, f"ast_{speaker.name}_{i:04d}", resample(pcm, 16000))
            for speed in SPEEDS:  # playing 16 kHz audio as if it were 16000*speed Hz
                total += write(out, f"ast_{speaker.name}_{i:04d}_s{speed}", resample(pcm, int(16000 * speed)))
    return total


def klettres(out: Path) -> float:
    """Letters and syllables read by people in 20 languages (44.1 kHz ogg)."""
    total = 0.0
    for i, file in enumerate(sorted(KLETTRES.rglob("*.ogg"))):
        audio, rate = sf.read(file, dtype="float32", always_2d=True)
        total += write(out, f"klet_{i:05d}", resample(audio.mean(axis=1), rate))
    return total


def espeak(out: Path, count: int) -> float:
    """espeak-ng speech in many languages and voice variants, with pitch and speed changes."""
    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "x.wav"
        for i in range(count):
            lang, variant = random.choice(ESPEAK_LANGS), random.choice(ESPEAK_VARIANTS)
            text = " ".join(random.sample(SENTENCES, 2))
            cmd = ["espeak-ng", "-v", f"{lang}+{variant}", "-p", str(random.randint(15, 85)),
                   "-s", str(random.randint(120, 200)), "-w", str(wav), text]
            if subprocess.run(cmd, capture_output=True).returncode != 0:
                continue
            audio, rate = sf.read(wav, dtype="float32", always_2d=True)
            total += write(out, f"esp_{i:05d}", resample(audio.mean(axis=1), rate))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="folder for the wav segments (outside the git tree)")
    parser.add_argument("--espeak", type=int, default=1500, help="number of espeak-ng utterances")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    random.seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, job in (("asterisk", lambda: asterisk(args.out)), ("klettres", lambda: klettres(args.out)),
                      ("espeak-ng", lambda: espeak(args.out, args.espeak))):
        print(f"{name}: {job() / 60:.1f} min", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
