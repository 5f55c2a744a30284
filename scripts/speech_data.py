"""Build the speech codec's second-generation training set from Debian packages (no root needed).

    python scripts/speech_data.py OUT_DIR [--cache DIR] [--sources tuxpaint,ktuberling,...]

Each source package is fetched with ``apt-get download`` and unpacked with ``dpkg-deb -x`` into
``--cache`` (no dpkg lock, no install), its speech files are decoded, mixed to mono, resampled to
24 kHz, deduplicated by a hash of the decoded samples (so the ~1000 repeated tuxpaint descriptions and
ktuberling's four identical sr@ folders count once), and written as 16-bit wav files under
``OUT_DIR/{train,valid}/SOURCE/SPEAKER/`` (one folder per voice, which ``tokkit train audio
--balance folders`` samples evenly). ``OUT_DIR/manifest.jsonl`` lists every kept file with its
source, speaker, seconds, split and hash; ``OUT_DIR/summary.json`` the minutes and speakers per source.

Split: sources with many speakers hold out whole speakers (the speaker key's hash mod 10 == 0),
single-voice sources hold out files (hash mod 25 == 0), so validation has both unseen voices and
unseen sentences of seen voices.

Held-out evaluation audio is excluded here and must never be added (benchmarks/audio_quality.py):
held-out: the LibriVox clips of pocketsphinx-testdata; held-out: the alsa-utils sounds; held-out: Codec2's samples.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

RATE = 24000
MIN_SECONDS = 0.25


@dataclass
class Source:
    """One Debian package: which of its files are speech and who speaks in each."""

    name: str
    packages: list[str]
    licence: str
    files: Callable[[Path], Iterator[Path]]
    speaker: Callable[[Path], str]
    by_speaker: bool  # hold out whole speakers (many voices) rather than files (few voices)


def _glob(pattern: str, exclude: tuple[str, ...] = ()) -> Callable[[Path], Iterator[Path]]:
    def files(root: Path) -> Iterator[Path]:
        for path in sorted(root.glob(pattern)):
            if path.is_file() and not any(part in str(path) for part in exclude):
                yield path
    return files


def _warzone_files(root: Path) -> Iterator[Path]:
    """Voice lines inside base.wz (a zip): unpacked next to it once; sound effects and music are skipped."""
    wz = root / "usr/share/games/warzone2100/base.wz"
    target = root / "warzone_audio"
    if wz.exists() and not target.exists():
        subprocess.run(["unzip", "-qo", str(wz), "audio/*", "-d", str(target)], check=False)
    skip = ("/sfx/", "/radclick/", "/extra/")
    yield from (p for p in sorted(target.rglob("*.ogg")) if not any(s in str(p) for s in skip))


def _lang_after(marker: str) -> Callable[[Path], str]:
    """Speaker key = the language tag after ``marker`` in the file name (one reader per language)."""
    def speaker(path: Path) -> str:
        return path.stem.split(marker, 1)[1] if marker in path.stem else "default"
    return speaker


def _part_after(path: Path, folder: str) -> str:
    """The path component right after ``folder`` (the voice or language folder)."""
    parts = path.parts
    return parts[len(parts) - 1 - parts[::-1].index(folder) + 1]  # the last ``folder``: the cache may share its name


def _fillets_speaker(path: Path) -> str:
    """fillets-ng names lines ``level-role-text``: the role (m = small fish, v = big fish, ...) and language."""
    parts = path.stem.split("-")
    return f"{path.parent.name}-{parts[1] if len(parts) > 2 else 'x'}"


SOURCES = [
    Source("tuxpaint", ["tuxpaint-stamps-default"], "GPL-2 (Tux Paint stamps)",
           _glob("usr/share/tuxpaint/stamps/**/*_desc*.ogg"), _lang_after("_desc_"), True),
    Source("ktuberling", ["ktuberling-data"], "GPL-2+ (KDE)",
           _glob("usr/share/ktuberling/sounds/*/*.*"), lambda p: p.parent.name, True),
    Source("fillets-cs", ["fillets-ng-data-cs"], "GPL-2+ (Fish Fillets NG)",
           _glob("usr/share/games/fillets-ng/sound/*/cs/*.ogg"), _fillets_speaker, False),
    Source("fillets-nl", ["fillets-ng-data-nl"], "GPL-2+ (Fish Fillets NG)",
           _glob("usr/share/games/fillets-ng/sound/*/nl/*.ogg"), _fillets_speaker, False),
    Source("festvox-ru", ["festvox-ru"], "BSD-like (festvox-ru, msu_ru_nsh)",
           _glob("usr/share/festival/voices/russian/*/wav/*.wav"), lambda p: "nsh", False),
    Source("kajongg", ["kajongg"], "GPL-2+ (KDE)",
           _glob("usr/share/kajongg/voices/*/*.ogg"), lambda p: p.parent.name, False),
    Source("gcin", ["gcin-voice"], "GPL-3/LGPL-3 (voice 3) and CC-BY-3.0 (voice 5) (gcin-voice)",
           _glob("usr/share/gcin-voice/ogg/*/*.ogg"), lambda p: p.stem, False),
    Source("warzone", ["warzone2100-data"], "GPL-2+ (Warzone 2100 data)", _warzone_files,
           lambda p: p.parent.name, False),
    Source("asterisk", [f"asterisk-core-sounds-{lang}-g722" for lang in ("en", "es", "fr", "it", "ru")],
           "CC-BY-SA-3.0 (Asterisk core sounds, Allison Smith et al.)",
           _glob("usr/share/asterisk/sounds/*/**/*.g722"), lambda p: _part_after(p, "sounds"), False),
    Source("klettres", ["klettres-data"], "GPL-2+ (KDE)",
           _glob("usr/share/klettres/*/**/*.ogg"), lambda p: _part_after(p, "klettres"), True),
]


def fetch(source: Source, cache: Path) -> Path:
    """``apt-get download`` the source's packages and ``dpkg-deb -x`` them into one folder; returns it."""
    root = cache / source.name
    done = root / ".unpacked"
    if done.exists():
        return root
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    for package in source.packages:
        if not list(debs.glob(f"{package}_*.deb")):
            subprocess.run(["apt-get", "download", "-q", package], cwd=debs, check=True)
        for deb in debs.glob(f"{package}_*.deb"):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    done.touch()
    return root


def decode(path: Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples and their rate (g722 through the PyPI ``g722`` package)."""
    if path.suffix == ".g722":
        import G722

        pcm = np.asarray(G722.G722(16000, 64000).decode(path.read_bytes()), dtype=np.float32) / 32768.0
        return pcm, 16000
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    return audio.mean(axis=1), rate


def to_rate(audio: np.ndarray, rate: int) -> np.ndarray:
    """Resample mono audio to the codec rate (polyphase)."""
    if rate == RATE:
        return audio
    g = gcd(RATE, rate)
    return resample_poly(audio, RATE // g, rate // g).astype(np.float32)


def build(out: Path, cache: Path, names: list[str]) -> dict:
    """Fetch, decode, deduplicate, split and write every chosen source; returns the per-source summary."""
    seen: set[str] = set()
    summary: dict[str, dict] = {}
    manifest = (out / "manifest.jsonl").open("w")
    for source in (s for s in SOURCES if s.name in names):
        root = fetch(source, cache)
        stats = {"licence": source.licence, "files": 0, "duplicates": 0, "seconds": 0.0, "speakers": set(),
                 "valid_seconds": 0.0, "rates": set()}
        for path in source.files(root):
            try:
                audio, rate = decode(path)
            except Exception as exc:  # a broken file in a package: report and go on
                print(f"skip {path}: {exc}", file=sys.stderr)
                continue
            if audio.size < MIN_SECONDS * rate or not np.isfinite(audio).all() or np.abs(audio).max() < 1e-4:
                continue
            digest = hashlib.sha1(np.round(audio * 32767).astype(np.int16).tobytes()).hexdigest()
            if digest in seen:
                stats["duplicates"] += 1
                continue
            seen.add(digest)
            speaker = f"{source.name}:{source.speaker(path)}"
            key = speaker if source.by_speaker else digest
            split = "valid" if int(hashlib.sha1(key.encode()).hexdigest(), 16) % (10 if source.by_speaker else 25) == 0 else "train"
            samples = to_rate(audio, rate)
            peak = float(np.abs(samples).max())
            samples = samples / peak * 0.9 if peak > 1.0 else samples
            voice = "".join(c if c.isalnum() or c in "-_@." else "_" for c in speaker.split(":", 1)[1]) or "x"
            target = out / split / source.name / voice / f"{digest[:16]}.wav"  # one folder per voice: balancing
            target.parent.mkdir(parents=True, exist_ok=True)
            sf.write(target, samples, RATE, subtype="PCM_16")
            seconds = samples.size / RATE
            manifest.write(json.dumps({"path": str(target.relative_to(out)), "source": source.name, "speaker": speaker,
                                       "seconds": round(seconds, 3), "split": split, "rate": rate, "sha1": digest,
                                       "origin": str(path.relative_to(root))}) + "\n")
            stats["files"] += 1
            stats["seconds"] += seconds
            stats["valid_seconds"] += seconds if split == "valid" else 0.0
            stats["speakers"].add(speaker)
            stats["rates"].add(rate)
        stats.update(minutes=round(stats.pop("seconds") / 60, 1), valid_minutes=round(stats.pop("valid_seconds") / 60, 1),
                     speaker_keys=len(stats.pop("speakers")), rates=sorted(stats["rates"]))
        summary[source.name] = stats
        print(f"{source.name}: {stats}", file=sys.stderr, flush=True)
    manifest.close()
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="output folder (outside the git tree)")
    parser.add_argument("--cache", type=Path, default=None, help="where packages are downloaded and unpacked "
                        "(default OUT/../speech_debs)")
    parser.add_argument("--sources", default=",".join(s.name for s in SOURCES),
                        help="comma-separated subset of: " + ", ".join(s.name for s in SOURCES))
    args = parser.parse_args()
    names = [n for n in args.sources.split(",") if n]
    unknown = set(names) - {s.name for s in SOURCES}
    if unknown:
        sys.exit(f"unknown sources {sorted(unknown)}; known: {', '.join(s.name for s in SOURCES)}")
    args.out.mkdir(parents=True, exist_ok=True)
    build(args.out, (args.cache or args.out.parent / "speech_debs").resolve(), names)


if __name__ == "__main__":
    main()
