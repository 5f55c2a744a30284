"""Image tokenizer quality against token count on held-out photos, side by side with JPEG, WebP and AVIF
(Pillow) at equal byte budgets.

    python scripts/image_data.py DATA                      # once: DATA/heldout/ holds photos never trained on
    python benchmarks/image_quality.py --data DATA/heldout [--model image|DIR] [--crops 4] [--json] [--plot rd.png]

Test pictures: from each held-out photo, its centre square and ``crops - 1`` seeded random squares (40 to
80 % of the shorter side), resized (Lanczos) to the model's S x S. The tokenizer encodes each picture
into K tokens; its byte count is the packed payload, ceil(K * bits / 8) (a token file adds a JSON header,
amortised over many items; the classic codecs' byte counts are whole files, headers included).

Classic codecs get an oracle search per picture and budget: every downscale (S, 3S/4, S/2, 3S/8, S/4,
3S/16, S/8 pixels square, Lanczos) and every quality on a grid, decoded and upscaled back (bicubic); the
best PSNR whose file fits the budget is kept (its SSIM is reported). A codec that cannot fit a budget
for some pictures is marked with how many fit, and the verdict compares on those pictures only.
SSIM: Gaussian window (11 x 11, sigma 1.5; Wang et al. 2004), mean over RGB channels.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tokkit  # noqa: E402
from tokkit.analysis.classic.image import best_within, classic_options, codecs  # noqa: E402,F401 (video_quality uses them)
from tokkit.analysis.image_metrics import psnr, ssim  # noqa: E402
from tokkit.codecs.image.io import IMAGE_SUFFIXES, read_rgb  # noqa: E402
from tokkit.core.tokens import Tokens  # noqa: E402

ANCHOR = ("Anchor (issue 7), 384 bytes on a 256x256 photo: WebP (downscaled) 18.6 dB / SSIM 0.51, "
          "JPEG 15.1 dB / 0.31. Target: at equal bytes the default beats WebP for every K <= 64.")


def test_pictures(folder: Path, size: int, crops: int, seed: int = 0) -> list[np.ndarray]:
    """Centre square plus seeded random squares of every photo, resized to size x size (uint8 RGB)."""
    rng = np.random.default_rng(seed)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        sys.exit(f"no held-out photos in {folder}: run python scripts/image_data.py DATA first")
    pictures = []
    for path in files:
        photo = read_rgb(path)
        short = min(photo.size)
        boxes = [((photo.width - short) // 2, (photo.height - short) // 2, short)]
        for _ in range(crops - 1):
            side = int(short * rng.uniform(0.4, 0.8))
            boxes.append((int(rng.integers(photo.width - side + 1)), int(rng.integers(photo.height - side + 1)), side))
        for left, top, side in boxes:
            square = photo.crop((left, top, left + side, top + side))
            pictures.append(np.asarray(square.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)))
    return pictures


def anchor_check(folder: Path) -> str:
    """The issue's anchor setting measured here: best WebP / JPEG within 384 bytes on 256x256 centre squares."""
    pictures = test_pictures(folder, 256, crops=1)
    parts = []
    for name, options in codecs().items():
        if name == "AVIF":
            continue
        best = [best_within(classic_options(p, options), 384) for p in pictures]
        fit = [b for b in best if b is not None]
        parts.append(f"{name} {np.mean([b[0] for b in fit]):.1f} dB / {np.mean([b[1] for b in fit]):.2f} "
                     f"({len(fit)}/{len(pictures)} fit)" if fit else f"{name} cannot fit")
    return "Anchor setting measured here (384 bytes, 256x256 centre squares of the held-out photos): " + ", ".join(parts)


def bytes_to_match(settings: list[tuple[int, float, float]], target_psnr: float) -> int | None:
    """Smallest file among settings reaching ``target_psnr``, or None if no setting does."""
    sizes = [n for n, p, _ in settings if p >= target_psnr]
    return min(sizes) if sizes else None


def _median_or_none(values: list[int | None]) -> float | None:
    """Median where every picture has a value (None counts as larger than any), else None if most lack one."""
    ranked = sorted(values, key=lambda v: float("inf") if v is None else v)
    middle = ranked[len(ranked) // 2]
    return None if middle is None else float(middle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="folder of held-out photos (DATA/heldout)")
    parser.add_argument("--model", default="image", help="built-in name or saved tokenizer folder (default: image)")
    parser.add_argument("--crops", type=int, default=4, help="test squares per photo (centre + random)")
    parser.add_argument("--tokens", default="1,2,4,8,12,16,24,32,48,64",
                        help="token counts K to score (those above the model's N are skipped)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    parser.add_argument("--plot", type=Path, help="write the rate-distortion figure (PSNR against bytes, tokkit "
                        "beside each classic codec) to this .png or .svg")
    parser.add_argument("--plot-budgets", default="48,64,96,128,192,256,384,512,768,1024",
                        help="byte budgets of the classic codecs' points in --plot (besides tokkit's own)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    tok = tokkit.load(args.model)
    size, bits = tok.config.image_size, tok.config.bits_per_token
    ks = [k for k in map(int, args.tokens.split(",")) if 1 <= k <= tok.max_tokens]
    pictures = test_pictures(args.data, size, args.crops)
    started = time.perf_counter()
    full = tok.encode_batch([Image.fromarray(p) for p in pictures])
    encode_s = time.perf_counter() - started
    ours: dict[int, list[tuple[float, float]]] = {}
    decode_s = 0.0
    for k in ks:
        started = time.perf_counter()
        decoded = tok.decode_batch([Tokens(t.codes[:k], t.meta) for t in full])
        decode_s += time.perf_counter() - started
        ours[k] = [(psnr(p, np.asarray(d)), ssim(p, np.asarray(d))) for p, d in zip(pictures, decoded)]
    classic = {name: [classic_options(p, options) for p in pictures] for name, options in codecs().items()}

    rows = []
    for k in ks:
        budget = (k * bits + 7) // 8
        row = {"K": k, "bytes": budget, "bpp": round(8 * budget / size**2, 4),
               "ours_psnr": float(np.mean([q[0] for q in ours[k]])), "ours_ssim": float(np.mean([q[1] for q in ours[k]]))}
        for name, per_picture in classic.items():
            best = [best_within(settings, budget) for settings in per_picture]
            fit = [i for i, b in enumerate(best) if b is not None]
            row[name] = {"fit": len(fit),
                         "psnr": float(np.mean([best[i][0] for i in fit])) if fit else None,
                         "ssim": float(np.mean([best[i][1] for i in fit])) if fit else None,
                         "ours_psnr_same": float(np.mean([ours[k][i][0] for i in fit])) if fit else None,
                         "ours_ssim_same": float(np.mean([ours[k][i][1] for i in fit])) if fit else None,
                         "bytes_to_match_median": _median_or_none(
                             [bytes_to_match(settings, ours[k][i][0]) for i, settings in enumerate(per_picture)])}
        rows.append(row)

    if args.plot:
        budgets = sorted({row["bytes"] for row in rows} | {int(b) for b in args.plot_budgets.split(",")})
        plot(rows, classic, budgets, f"{args.model} ({size}x{size})", len(pictures), args.plot)
    if args.json:
        print(json.dumps({"model": args.model, "size": size, "bits_per_token": bits, "pictures": len(pictures),
                          "rows": rows}, indent=2))
        return
    print(f"model {args.model}: {size}x{size}, N = {tok.max_tokens} tokens x {bits} bits; {len(pictures)} test squares "
          f"from {args.data}; encode {1000 * encode_s / len(pictures):.1f} ms/picture, decode "
          f"{1000 * decode_s / (len(pictures) * len(ks)):.1f} ms/picture (CPU, {args.threads} thread)")
    print(ANCHOR)
    print(anchor_check(args.data))
    names = list(classic)
    header = f"{'K':>3} {'bytes':>5} {'bpp':>6} | {'ours PSNR/SSIM':>15} | " + " | ".join(f"{n + ' PSNR/SSIM (fit)':>27}" for n in names)
    print(header)
    print("-" * len(header))
    for row in rows:
        cells = []
        for name in names:
            entry = row[name]
            cells.append(f"{'cannot fit':>27}" if entry["psnr"] is None else
                         f"{entry['psnr']:6.2f} dB / {entry['ssim']:.3f} ({entry['fit']:>3}/{len(pictures)})".rjust(27))
        print(f"{row['K']:>3} {row['bytes']:>5} {row['bpp']:>6.3f} | {row['ours_psnr']:6.2f} dB / {row['ours_ssim']:.3f} | "
              + " | ".join(cells))
    print()
    for row in rows:
        webp = row["WebP"]
        if webp["psnr"] is None:
            verdict = "WebP cannot make a file this small: no comparison"
        else:
            dp, ds = webp["ours_psnr_same"] - webp["psnr"], webp["ours_ssim_same"] - webp["ssim"]
            verdict = (f"on the {webp['fit']} pictures WebP fits: ours {webp['ours_psnr_same']:.2f} dB / "
                       f"{webp['ours_ssim_same']:.3f} vs WebP {webp['psnr']:.2f} dB / {webp['ssim']:.3f} "
                       f"({dp:+.2f} dB, SSIM {ds:+.3f}) -> {'ours better' if dp > 0 and ds > 0 else 'WebP better or mixed'}")
        print(f"K = {row['K']:>2} ({row['bytes']} bytes): {verdict}")
    print()
    print("Bytes each codec needs to match our PSNR at K (median over pictures, oracle downscale + quality):")
    for row in rows:
        parts = []
        for name in names:
            need = row[name]["bytes_to_match_median"]
            parts.append(f"{name} never" if need is None else f"{name} {need:.0f} B ({need / row['bytes']:.1f}x)")
        print(f"K = {row['K']:>2} ({row['bytes']} bytes, ours {row['ours_psnr']:.2f} dB): " + ", ".join(parts))
    monotone = all(a["ours_psnr"] < b["ours_psnr"] for a, b in zip(rows, rows[1:]))
    print(f"quality rises with K (PSNR strictly increasing): {'yes' if monotone else 'NO'}")


def rd_curves(rows: list[dict], classic: dict[str, list[list[tuple[int, float, float]]]], budgets: list[int],
              model: str) -> list:
    """tokkit's mean PSNR at each K's bytes, and each classic codec's mean best PSNR within each budget,
    drawn only where every picture fits (a mean over a subset would not be comparable)."""
    from tokkit.analysis.plots import Curve

    curves = [Curve(f"tokkit {model}", [r["bytes"] for r in rows], [r["ours_psnr"] for r in rows], ours=True,
                    notes=[f"K={r['K']}" for r in rows])]
    for name, per_picture in classic.items():
        xs, ys = [], []
        for budget in budgets:
            best = [best_within(settings, budget) for settings in per_picture]
            if all(b is not None for b in best):
                xs.append(budget)
                ys.append(float(np.mean([b[0] for b in best])))
        if xs:
            curves.append(Curve(name, xs, ys))
    return curves


def plot(rows: list[dict], classic: dict, budgets: list[int], model: str, pictures: int, path: Path) -> None:
    """The rate-distortion figure: PSNR against payload bytes, tokkit beside JPEG/WebP/AVIF (oracle settings)."""
    from tokkit.analysis.plots import rd_plot

    curves = rd_curves(rows, classic, budgets, model)
    missing = [name for name in classic if name not in {c.label for c in curves}]
    rd_plot(curves, path, xlabel="payload bytes per picture (log scale)", ylabel="PSNR (dB)", logx=True,
            title=f"images: {pictures} held-out squares\nclassic = best downscale + quality within the bytes, "
                  f"where every picture fits" + (f" ({', '.join(missing)}: never)" if missing else ""))
    print(f"figure written to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
