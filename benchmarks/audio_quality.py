"""Speech codec quality on held-out real speech, side by side with Codec2 1200/3200 and Opus 6 kbps.

    python benchmarks/audio_quality.py [--model audio|DIR ...] [--codebooks 1,2,4] [--threads 2] [--json] [--plot rd.png]
                                       [--codec2-modes 1200,3200] [--opus-kbps 6] [--limit N]

Held-out clips (never used in training): LibriVox excerpts from Debian ``pocketsphinx-testdata`` and the
spoken channel announcements of ``alsa-utils`` (``apt-get install pocketsphinx-testdata alsa-utils
codec2 opus-tools``, else ffmpeg's libcodec2 / libopus: tokkit.analysis.classic.audio; ``pip install pystoi``).
Every codec's output is resampled to 16 kHz, aligned to the reference by cross-correlation (at most 40 ms)
and scored (tokkit.analysis.metrics_audio): STOI (pystoi), log-mel L1 distance (80 bands, lower is better), SI-SDR (dB), bitrate, and encode/decode real-time factors (wall time / audio duration).
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tokkit.analysis.classic.audio import available, codec2, opus  # noqa: E402
from tokkit.analysis.metrics_audio import EVAL_RATE, audio_scores  # noqa: E402
from tokkit.codecs.audio.io import Audio, load_audio, resample  # noqa: E402

HELD_OUT = ["/usr/share/pocketsphinx/test/data/librivox/*.wav", "/usr/share/sounds/alsa/[FRS]*.wav"]
ANCHORS = ("Anchors (issue 6): Codec2-1200 STOI 0.78; Opus-6k STOI 0.90; WavTokenizer 0.9 kbps STOI 0.90 (LibriSpeech). "
           "Targets (issue 19): STOI >= 0.85 at <= 1.0 kbps, >= 0.90 at <= 3.2 kbps, mel distance below Codec2-3200 at 3.2 kbps")


def held_out_clips() -> list[Path]:
    clips = sorted(Path(p) for pattern in HELD_OUT for p in glob.glob(pattern))
    if not clips:
        sys.exit("no held-out clips: apt-get install pocketsphinx-testdata alsa-utils")
    return clips


def tokkit_codec(codec, codebooks: int | None = None):
    """Encode + decode with a tokkit codec (residual codecs: only the first ``codebooks`` levels)."""
    options = {} if codebooks is None else {"codebooks": codebooks}

    def encode_decode(audio: Audio, tmp: Path) -> tuple[np.ndarray, float, float, float]:
        t0 = time.perf_counter()
        tokens = codec.encode(audio, **options)
        t1 = time.perf_counter()
        out = codec.decode(tokens)
        t2 = time.perf_counter()
        bits = tokens.codes.size * int(np.ceil(np.log2(codec.codebook_size))) / audio.duration
        return resample(out.samples, out.sample_rate, EVAL_RATE), bits, (t1 - t0) / audio.duration, (t2 - t1) / audio.duration
    return encode_decode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="tokkit codec: built-in name or saved folder (default: audio); "
                        "repeat to compare several in one run")
    parser.add_argument("--codebooks", default="all", help="residual codecs: the prefixes of levels to run, e.g. 1,2,4 "
                        "(each is one bitrate of the same model; default: every prefix)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads for the tokkit codec")
    parser.add_argument("--json", action="store_true", help="also print per-codec means as JSON")
    parser.add_argument("--codec2-modes", default="1200,3200",
                        help="Codec2 modes to run (c2enc's: 3200, 2400, 1600, 1400, 1300, 1200, 700C)")
    parser.add_argument("--opus-kbps", default="6", help="Opus bitrates to run, kbps (comma-separated, >= 6)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N held-out clips (quick runs)")
    parser.add_argument("--plot", type=Path, help="write the rate-distortion figure (STOI against kbps, tokkit "
                        "beside Codec2 and Opus) to this .png or .svg")
    args = parser.parse_args()

    import torch

    import tokkit

    torch.set_num_threads(args.threads)
    models = args.model or ["audio"]
    clips = held_out_clips()
    if args.limit:
        clips = clips[:args.limit]
    refs = [load_audio(c) for c in clips]
    total = sum(a.duration for a in refs)
    systems = {}
    for number, spec in enumerate(models):
        codec = tokkit.load(spec)
        codec.decode(codec.encode(refs[0]))  # warm-up, so RTF excludes first-call overheads
        depth = getattr(codec, "n_codebooks", 1)
        prefixes = [None] if depth == 1 else (list(range(1, depth + 1)) if args.codebooks == "all"
                                              else [int(k) for k in args.codebooks.split(",") if int(k) <= depth])
        tag = "" if len(models) == 1 else f"#{number + 1} "
        for k in prefixes:
            kbps = codec.describe()["kbps"] * (1 if k is None else k / depth)
            systems[f"tokkit {tag}{kbps:g} kbps"] = tokkit_codec(codec, k)
    classic = available()  # the Debian tools when present, else ffmpeg's libcodec2 / libopus
    if classic["Codec2"] is None:
        for mode in filter(None, args.codec2_modes.split(",")):
            systems[f"codec2 {mode}"] = lambda a, t, mode=mode: codec2(a, mode, t)
    if classic["Opus"] is None:
        for kbps in filter(None, args.opus_kbps.split(",")):
            systems[f"opus {kbps}k"] = lambda a, t, kbps=kbps: opus(a, kbps, t)
    print(f"{len(clips)} held-out clips, {total:.1f} s ({', '.join(sorted({c.parent.name for c in clips}))}); "
          f"models {', '.join(f'#{i + 1} {m}' for i, m in enumerate(models))}, {args.threads} torch threads", file=sys.stderr)
    rows = {}
    header = f"{'codec':<22}{'kbps':>7}{'STOI':>7}{'STOI-LV':>9}{'mel L1':>8}{'SI-SDR':>8}{'enc RTF':>9}{'dec RTF':>9}"
    print(header, flush=True)
    with tempfile.TemporaryDirectory() as tmpdir:
        for name, system in systems.items():
            per_clip, weights, bits, enc, dec = [], [], [], [], []
            for audio in refs:
                reference = resample(audio.samples, audio.sample_rate, EVAL_RATE)
                decoded, b, e, d = system(audio, Path(tmpdir))
                per_clip.append(audio_scores(reference, decoded))
                weights.append(audio.duration)
                bits.append(b * audio.duration)
                enc.append(e * audio.duration)
                dec.append(d * audio.duration)
            w = np.array(weights) / total
            rows[name] = {k: float(sum(wi * s[k] for wi, s in zip(w, per_clip))) for k in per_clip[0]}
            rows[name].update(kbps=sum(bits) / total / 1000, enc_rtf=sum(enc) / total, dec_rtf=sum(dec) / total,
                              stoi_librivox=float(np.mean([s["stoi"] for s, c in zip(per_clip, clips) if "librivox" in str(c)])))
            r = rows[name]  # each row as soon as it is measured (long runs on a busy machine)
            print(f"{name:<22}{r['kbps']:>7.2f}{r['stoi']:>7.3f}{r['stoi_librivox']:>9.3f}{r['mel']:>8.3f}{r['si_sdr']:>8.1f}"
                  f"{r['enc_rtf']:>9.4f}{r['dec_rtf']:>9.4f}", flush=True)
    for anchor in ("codec2 1200", "codec2 3200"):
        if anchor not in rows:
            continue
        c2 = rows[anchor]
        for name, ours in rows.items():
            if name.startswith("tokkit"):
                print(f"{name} vs {anchor}: STOI {ours['stoi'] / c2['stoi']:.3f}x, mel distance "
                      f"{ours['mel'] / c2['mel']:.3f}x, bitrate {ours['kbps'] / c2['kbps']:.3f}x")
    print(ANCHORS)
    print("STOI-LV: LibriVox clips only; RTFs are wall time over audio duration (tokkit at its torch threads; "
          "codec2/opus include process start-up).")
    if args.json:
        print(json.dumps(rows, indent=2))
    if args.plot:
        plot(rows, models, f"{len(clips)} held-out clips, {total:.0f} s", args.plot)


def rd_curves(rows: dict[str, dict], ours: str | list[str] = "tokkit") -> list:
    """One curve per codec family (codec2, opus) and per tokkit model ("tokkit #k ..." rows when several
    models ran; ``ours`` their names in order): STOI against kbps, one point per system run."""
    from tokkit.analysis.plots import Curve

    names = [ours] if isinstance(ours, str) else [f"tokkit {model}" for model in ours]
    families: dict[str, list[tuple[str, dict]]] = {}
    for name, row in rows.items():
        words = name.split()
        family = " ".join(words[:2]) if words[0] == "tokkit" and words[1].startswith("#") else words[0]
        families.setdefault(family, []).append((name, row))
    labels = {"tokkit": names[0], "codec2": "Codec2", "opus": "Opus"}
    labels.update({f"tokkit #{k + 1}": name for k, name in enumerate(names)})
    return [Curve(labels.get(family, family), [r["kbps"] for _, r in members], [r["stoi"] for _, r in members],
                  ours=family.startswith("tokkit"), notes=[name.split(maxsplit=len(family.split()))[-1]
                                                          for name, _ in members])
            for family, members in families.items()]


def plot(rows: dict[str, dict], ours: list[str], inputs: str, path: Path) -> None:
    """The rate-distortion figure: STOI against bitrate, tokkit beside Codec2 and Opus."""
    from tokkit.analysis.plots import rd_plot

    rd_plot(rd_curves(rows, ours), path, xlabel="bitrate (kbps, log scale)", ylabel="STOI (higher is better)", logx=True,
            title=f"speech: {inputs}\nbitrate = payload bits over duration (Opus: with its Ogg pages)")
    print(f"figure written to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
