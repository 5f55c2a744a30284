"""Shape tokenizer quality against payload bytes on the held-out shapes, beside classic mesh coders at
equal bytes, all in one run on the same inputs.

    python scripts/shape_data.py DATA                # once: DATA/heldout/{cgal,furniture} (never trained on)
    python benchmarks/shape_quality.py --data DATA/heldout [--model shape|DIR ...] [--tokens 64,128,...]
                                       [--resolution 64] [--plot rd.png] [--gallery shapes.png] [--json out.json]
                                       [--classic-cache classic.json [--classic-cached-only]]

Metrics (tokkit.analysis.shape_metrics): Chamfer-L1 and F-score at 0.01 / 0.02 from 30 000 area-weighted
surface samples per shape, both shapes in the reference's frame scaled to longest side 1.

tokkit: the shape is encoded once into all N tokens; every K in ``--tokens`` decodes the K-token prefix
(marching cubes at ``--resolution``). Its payload is the packed tokens, ceil(K * bits / 8), plus 16 bytes
of placement (bounding-box centre and scale as 4 float32), which the token file keeps in its header; rows
are labelled by that payload, and the largest K that fits each ``--budgets`` byte budget is always added
(K=396 is 511 B, K=192 256 B at 10 bits), so every budget has a row. ``--model`` may be given several
times: every model decodes the same shapes in the same run (e.g. a new run beside the shipped default).

Classic anchors, each with an oracle search per shape and budget: every candidate whose bytes fit the
budget is scored and the best F@0.02 is kept (not just the largest that fits: a coarser decimation with more
Draco bits can beat a finer one with fewer; the anchors' code: tokkit.analysis.classic.shape):
- quadric decimation (fast-simplification) to a ladder of face counts, stored raw (float32 vertices,
  uint16 or uint32 indices) and with Draco (DracoPy, compression level 10, 6-12 quantization bits);
- vertex clustering on a grid of 4-64 cells per side, then Draco;
- farthest-point samples of the surface, stored as float16 xyz (scored as points, without normals).
"best classic" is the best of these per shape. Budgets a method cannot reach count as F = 0 for it.
Computing them takes seconds to a minute per shape; ``--classic-cache`` keeps finished shapes (written
atomically after each shape, so an interrupted run resumes; entries made by an older search are recomputed),
and ``--classic-cached-only`` uses only the shapes it has and compares tokkit with them on exactly those
shapes (tokkit's tables still cover every shape).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tokkit  # noqa: E402
from tokkit.analysis.classic.shape import CLASSIC_METHODS, best_within, classic_candidates  # noqa: E402
from tokkit.analysis.shape_metrics import ReferenceSurface  # noqa: E402
from tokkit.codecs.shape.io import normalise, read_shape  # noqa: E402
from tokkit.core.atomic import atomic_write_text  # noqa: E402
from tokkit.core.tokens import Tokens  # noqa: E402

ANCHOR = ("Anchor (issue 16), best classic per shape: at 512 B CGAL F@0.02 0.98, furniture 0.86; at 256 B 0.76 / 0.63. "
          "Targets: <= 512 B F@0.02 >= 0.93 over all 54 held-out shapes; <= 256 B F@0.02 > 0.70.")
PLACEMENT_BYTES = 16
#: how the cached classic anchors were searched; cache entries with another tag are recomputed
CLASSIC_SEARCH = "every fitting candidate"


def held_out_shapes(folder: Path) -> list[tuple[str, str, Path]]:
    """(group, name, path) of every held-out shape: cgal/*.off and furniture/NAME/NAME.obj."""
    shapes = [("cgal", p.stem, p) for p in sorted((folder / "cgal").glob("*.off"))]
    shapes += [("furniture", d.name, d / f"{d.name}.obj") for d in sorted((folder / "furniture").iterdir()) if d.is_dir()]
    if not shapes:
        sys.exit(f"no held-out shapes under {folder}: run python scripts/shape_data.py DATA first")
    return shapes


_WORKER: dict = {}


def _init_worker(settings: tuple) -> None:
    """Per-process state: one torch thread and the tokenizer."""
    import torch

    torch.set_num_threads(1)
    _WORKER["settings"] = settings
    _WORKER["tokenizers"] = {model: tokkit.load(model, device="cpu") for model in settings[0]}


def _evaluate(job: tuple) -> tuple[dict, float]:
    """Every figure for one held-out shape: tokkit at each K (with timings) and the classic anchors
    (computed unless ``cached`` has them)."""
    group, name, path, cached = job
    models, token_counts, budgets, resolution, no_tokkit, no_classic, cached_only = _WORKER["settings"]
    started = time.monotonic()
    shape = read_shape(path)
    row: dict = {"group": group, "name": name, "tokkit": {}, "classic": {}, "timing": {}}
    reference = ReferenceSurface(shape.vertices, shape.faces) if not no_tokkit else None
    for model in models if not no_tokkit else []:
        tokenizer = _WORKER["tokenizers"][model]
        bits = tokenizer.config.bits_per_token
        row["tokkit"][model] = {}
        t0, c0 = time.perf_counter(), time.process_time()
        full = tokenizer.encode(shape)
        encode_s, encode_cpu = time.perf_counter() - t0, time.process_time() - c0
        for k in token_counts:
            t0, c0 = time.perf_counter(), time.process_time()
            mesh = tokenizer.decode(Tokens(full.codes[:k], full.meta), resolution=resolution)
            decode_s, decode_cpu = time.perf_counter() - t0, time.process_time() - c0
            scores = reference.score(np.asarray(mesh.vertices), np.asarray(mesh.faces)).as_dict()
            scores.update(bytes=math.ceil(k * bits / 8) + PLACEMENT_BYTES, decode_s=decode_s, decode_cpu=decode_cpu)
            row["tokkit"][model][k] = scores
        last = row["tokkit"][model][token_counts[-1]]
        row["timing"][model] = (encode_s, last["decode_s"], encode_cpu, last["decode_cpu"])
    if not no_classic and cached.get("search") == CLASSIC_SEARCH and all(
            str(b) in cached.get(m, {}) for m in CLASSIC_METHODS for b in budgets):
        row["classic"] = {m: {b: cached[m][str(b)] for b in budgets} for m in CLASSIC_METHODS}
    elif not no_classic and not cached_only and shape.is_mesh:
        unit, _ = normalise(shape)
        unit_reference = ReferenceSurface(unit.vertices, unit.faces)
        candidates = classic_candidates(unit)
        cache: dict = {}
        for method, options in candidates.items():
            row["classic"][method] = {b: best_within(options, b, unit_reference, cache) for b in budgets}
        row["classic_computed"] = True
    return row, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the held-out folder (cgal/, furniture/)")
    parser.add_argument("--model", action="append", help="tokenizer: built-in name or saved folder; repeat to "
                        "compare several on the same shapes in one run (default: shape)")
    parser.add_argument("--tokens", default="32,64,128,192,256,384,512", help="K values (comma-separated)")
    parser.add_argument("--budgets", default="256,512", help="byte budgets for the classic anchors")
    parser.add_argument("--resolution", type=int, default=64, help="marching-cubes grid for tokkit")
    parser.add_argument("--limit", type=int, default=0, help="only the first N shapes of each group (quick runs)")
    parser.add_argument("--no-classic", action="store_true", help="skip the classic anchors")
    parser.add_argument("--no-tokkit", action="store_true", help="only the classic anchors (e.g. to fill --classic-cache)")
    parser.add_argument("--classic-cache", type=Path,
                        help="JSON of classic results per shape and budget: read when it has them, else computed "
                             "and written (the anchors do not depend on the model)")
    parser.add_argument("--classic-cached-only", action="store_true", help="take the classic anchors only from "
                        "--classic-cache (no slow computing); they are compared with tokkit on those shapes only")
    parser.add_argument("--plot", type=Path, help="write the rate-distortion figure (F@0.02 against bytes, tokkit "
                        "beside each classic coder) to this .png or .svg")
    parser.add_argument("--gallery", type=Path, help="write a PNG of held-out shapes decoded at a few K")
    parser.add_argument("--gallery-tokens", default="64,192,384,512", help="K values in the --gallery picture")
    parser.add_argument("--json", type=Path, help="write every per-shape figure to this JSON file")
    parser.add_argument("--workers", type=int, default=1, help="processes, one shape each at a time (one torch thread each)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    models = args.model or ["shape"]
    tokenizers = {model: tokkit.load(model, device="cpu") for model in models}
    tokenizer = tokenizers[models[0]]
    bits = tokenizer.config.bits_per_token
    if any(t.config.bits_per_token != bits or t.max_tokens != tokenizer.max_tokens for t in tokenizers.values()):
        sys.exit("--model: every model must have the same token count and bits per token (rows are per K)")
    budgets = [int(b) for b in args.budgets.split(",")]
    # the largest K that fits each byte budget, so every budget has a row
    fits = [(budget - PLACEMENT_BYTES) * 8 // bits for budget in budgets]
    token_counts = sorted({int(k) for k in args.tokens.split(",")} | {k for k in fits if k >= 1})
    token_counts = [k for k in token_counts if k <= tokenizer.max_tokens]
    shapes = held_out_shapes(args.data)
    if args.limit:
        shapes = [s for g in ("cgal", "furniture") for s in [x for x in shapes if x[0] == g][: args.limit]]
    print(ANCHOR)
    print(f"{len(shapes)} held-out shapes; tokkit {', '.join(models)} ({tokenizer.max_tokens} tokens x {bits} bits, "
          f"iso levels {', '.join(str(t.config.iso_level) for t in tokenizers.values())}), resolution {args.resolution}, "
          f"one torch thread; payload = ceil(K*{bits}/8) + {PLACEMENT_BYTES} B placement")
    rows = []
    timings = []
    classic_cache = json.loads(args.classic_cache.read_text()) if args.classic_cache and args.classic_cache.is_file() else {}
    classic_used = [k for k, v in classic_cache.items()
                    if k in {f"{g}/{n}" for g, n, _ in shapes} and v.get("search") == CLASSIC_SEARCH]
    jobs = [(group, name, path, classic_cache.get(f"{group}/{name}", {})) for group, name, path in shapes]
    settings = (models, token_counts, budgets, args.resolution, args.no_tokkit, args.no_classic, args.classic_cached_only)
    with multiprocessing.get_context("fork").Pool(args.workers, initializer=_init_worker, initargs=(settings,)) as pool:
        for row, elapsed in pool.imap(_evaluate, jobs):
            if row.pop("classic_computed", False):
                classic_cache[f"{row['group']}/{row['name']}"] = {"search": CLASSIC_SEARCH, **{
                    m: {str(b): v for b, v in per.items()} for m, per in row["classic"].items()}}
                if args.classic_cache:  # temp file + os.replace: an interrupted run never leaves half a cache
                    atomic_write_text(args.classic_cache, json.dumps(classic_cache, indent=1))
            timings.append(row.pop("timing"))
            rows.append(row)
            cells = []
            for budget in budgets:
                best = max([m[budget]["f@0.02"] for m in row["classic"].values() if m.get(budget)] or [float("nan")])
                fitting = [k for k in token_counts if math.ceil(k * bits / 8) + PLACEMENT_BYTES <= budget]
                ours = " ".join(f"{row['tokkit'][m][max(fitting)]['f@0.02']:.3f}" for m in row["tokkit"]) if fitting else "nan"
                cells.append(f"<={budget}B tokkit {ours} best classic {best:.3f}")
            print(f"  {row['group']:9s} {row['name']:24s} F@0.02 {'  '.join(cells)}  ({elapsed:.0f} s)", file=sys.stderr, flush=True)
    if args.classic_cache and classic_used:
        print(f"classic anchors: {len(classic_used)} shapes read from {args.classic_cache} (made by this script "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(args.classic_cache.stat().st_mtime))}), the rest computed now")
    if args.no_tokkit:
        return
    for index, model in enumerate(models):
        print(f"\n=== tokkit {model} (iso level {tokenizers[model].config.iso_level}) ===")
        model_rows = [{**r, "tokkit": r["tokkit"][model]} for r in rows]
        report(model_rows, token_counts, budgets, [t[model] for t in timings], classic_tables=index == 0)
    if args.json:
        atomic_write_text(args.json, json.dumps(rows, indent=1, default=str))
    if args.plot:
        plot(rows, token_counts, budgets, models, args.plot)
    if args.gallery:
        gallery(tokenizer, shapes, [int(k) for k in args.gallery_tokens.split(",")], args.resolution, args.gallery)


def report(rows: list[dict], token_counts: list[int], budgets: list[int], timings: list[tuple[float, ...]],
           classic_tables: bool = True) -> None:
    """Print the tables: tokkit per K (labelled by payload bytes), classic per budget (on the shapes that have
    anchors), per group and overall, and the verdicts."""
    groups = {"cgal": [r for r in rows if r["group"] == "cgal"], "furniture": [r for r in rows if r["group"] == "furniture"], "all": rows}
    mean = lambda values: float(np.mean(values)) if values else float("nan")  # noqa: E731
    anchored = [r for r in rows if r["classic"]]
    print(f"\ntokkit (prefix of K tokens) on {len(rows)} shapes: payload bytes (K), then Chamfer-L1 x100 / F@0.01 / "
          "F@0.02 / normal consistency per group (n shapes)")
    for k in token_counts:
        cells = []
        for label, members in groups.items():
            s = [r["tokkit"][k] for r in members]
            cells.append(f"{label} ({len(s)}) {mean([x['chamfer_l1'] for x in s]) * 100:.2f}/{mean([x['f@0.01'] for x in s]):.3f}/"
                         f"{mean([x['f@0.02'] for x in s]):.3f}/{mean([x['normal_consistency'] for x in s]):.3f}")
        print(f"  {rows[0]['tokkit'][k]['bytes']:4d} B (K={k:3d})  " + "  ".join(cells))
    methods = sorted({m for r in anchored for m in r["classic"]})
    if methods and classic_tables:
        print(f"\nclassic anchors (oracle per shape and budget) on the {len(anchored)} shapes that have them: "
              "Chamfer-L1 x100 / F@0.02 per group; [n fit] when some shapes cannot fit")
        sub = {label: [r for r in members if r["classic"]] for label, members in groups.items()}
        for budget in budgets:
            for method in methods + ["best classic"]:
                cells = []
                for label, members in sub.items():
                    picks = []
                    for r in members:
                        options = [r["classic"][m][budget] for m in (methods if method == "best classic" else [method])
                                   if r["classic"].get(m, {}).get(budget)]
                        picks.append(max(options, key=lambda s: s["f@0.02"]) if options else None)
                    fit = [p for p in picks if p]
                    f02 = mean([p["f@0.02"] if p else 0.0 for p in picks])
                    note = f" [{len(fit)}/{len(picks)} fit]" if len(fit) < len(picks) else ""
                    cells.append(f"{label} ({len(members)}) {mean([p['chamfer_l1'] for p in fit]) * 100:.2f}/{f02:.3f}{note}")
                print(f"  {budget:5d} B {method:20s} " + "  ".join(cells))
    print("\nverdicts (F@0.02 averaged over shapes; a method that cannot fit a shape scores 0 on it):")
    for budget, target in ((512, 0.93), (256, 0.70)):
        fitting = [k for k in token_counts if rows[0]["tokkit"][k]["bytes"] <= budget]
        if not fitting:
            continue
        k = max(fitting)
        ours = mean([r["tokkit"][k]["f@0.02"] for r in rows])
        line = (f"  <= {budget} B: tokkit K={k} ({rows[0]['tokkit'][k]['bytes']} B) F@0.02 {ours:.3f} on {len(rows)} shapes "
                f"vs target {target:.2f} ({'met' if ours >= target else f'missed by {target - ours:.3f}'})")
        best = [max([r["classic"][m][budget]["f@0.02"] for m in r["classic"] if r["classic"][m].get(budget)] or [0.0])
                for r in anchored]
        if not anchored:
            line += "; no classic anchors in this run: no comparison"
        elif mean(best) == 0:
            line += "; no classic file fits this budget: no comparison"
        else:
            same = mean([r["tokkit"][k]["f@0.02"] for r in anchored])
            line += (f"; on the {len(anchored)} anchored shapes tokkit {same:.3f} vs best classic {mean(best):.3f} "
                     f"(ratio {same / mean(best):.2f})")
        print(line)
    curve = [mean([r["tokkit"][k]["f@0.02"] for r in rows]) for k in token_counts]
    rises = all(b > a for a, b in zip(curve, curve[1:]))
    print(f"  mean F@0.02 by K: {' '.join(f'{v:.3f}' for v in curve)} -> {'rises with every K' if rises else 'NOT monotonic'}")
    print("  change from the previous K: " + " ".join(f"K={k} {b - a:+.4f}" for k, a, b in zip(token_counts[1:], curve, curve[1:])))
    if anchored and classic_tables:
        per_shape(anchored, token_counts, budgets)
    for label, (e, d) in (("wall", (0, 1)), ("CPU (process time)", (2, 3))):
        enc, dec = [t[e] for t in timings], [t[d] for t in timings]
        total = [t[e] + t[d] for t in timings]
        print(f"  {label} per shape, one torch thread: encode {mean(enc):.2f} s (max {max(enc):.2f}), decode all "
              f"tokens {mean(dec):.2f} s (max {max(dec):.2f}); encode + decode {mean(total):.2f} s (max {max(total):.2f})")


def per_shape(rows: list[dict], token_counts: list[int], budgets: list[int]) -> None:
    """One line per shape: tokkit's F@0.02 at the largest K within each budget beside the best classic coder
    (and which) within it."""
    print("\nper shape, F@0.02 within each budget: tokkit (largest K that fits) vs best classic (method, bytes)")
    for r in rows:
        cells = []
        for budget in budgets:
            fitting = [k for k in token_counts if r["tokkit"][k]["bytes"] <= budget]
            ours = f"{r['tokkit'][max(fitting)]['f@0.02']:.3f}" if fitting else "  -  "
            options = [(m, r["classic"][m][budget]) for m in r["classic"] if r["classic"][m].get(budget)]
            method, best = max(options, key=lambda o: o[1]["f@0.02"]) if options else ("nothing fits", None)
            theirs = f"{best['f@0.02']:.3f} ({method}, {best['bytes']} B)" if best else "0 (nothing fits)"
            cells.append(f"{budget} B: {ours} vs {theirs:42s}")
        print(f"  {r['group']:9s} {r['name']:24s} " + "  ".join(cells))


def rd_curves(rows: list[dict], token_counts: list[int], budgets: list[int], models: list[str]) -> list:
    """Each tokkit model's mean F@0.02 per K against its bytes (``rows[i]["tokkit"][model][k]``); each classic
    coder's (and the best classic per shape) mean F@0.02 at each budget, drawn only where every shape fits it."""
    from tokkit.analysis.plots import Curve

    sizes = [rows[0]["tokkit"][models[0]][k]["bytes"] for k in token_counts] if rows and rows[0]["tokkit"] else []
    notes, last = [], 0.0
    for k, size in zip(token_counts, sizes):  # label points at least 1.3x apart in bytes (log axis: no overlaps)
        notes.append(f"K={k}" if size >= 1.3 * last else "")
        last = size if notes[-1] else last
    curves = [Curve(f"tokkit {Path(model).name}", [rows[0]["tokkit"][model][k]["bytes"] for k in token_counts],
                    [float(np.mean([r["tokkit"][model][k]["f@0.02"] for r in rows])) for k in token_counts], ours=True,
                    notes=notes if index == 0 else ())
              for index, model in enumerate(models) if rows and rows[0]["tokkit"]]
    anchored = [r for r in rows if r["classic"]]  # classic curves: the shapes that have anchors
    methods = sorted({m for r in anchored for m in r["classic"]})
    for method in methods + (["best classic"] if len(methods) > 1 else []):
        xs, ys = [], []
        for budget in budgets:
            picks = []
            for r in anchored:
                options = [r["classic"][m][budget] for m in (methods if method == "best classic" else [method])
                           if r["classic"].get(m, {}).get(budget)]
                picks.append(max(options, key=lambda s: s["f@0.02"]) if options else None)
            if all(p is not None for p in picks):
                xs.append(budget)
                ys.append(float(np.mean([p["f@0.02"] for p in picks])))
        if xs:
            curves.append(Curve(method, xs, ys))
    return curves


def plot(rows: list[dict], token_counts: list[int], budgets: list[int], models: list[str], path: Path) -> None:
    """The rate-distortion figure: F@0.02 against payload bytes, tokkit beside the classic coders, on the
    shapes that have classic anchors (all shapes when none has)."""
    from tokkit.analysis.plots import rd_plot

    anchored = [r for r in rows if r["classic"]] or rows
    inputs = f"{len(anchored)} held-out shapes" + (f" (of {len(rows)}: those with classic anchors)" if len(anchored) < len(rows) else "")
    rd_plot(rd_curves(anchored, token_counts, budgets, models), path, xlabel="payload bytes per shape (log scale)",
            ylabel="F-score @ 0.02 (higher is better)", logx=True,
            title=f"3D: {inputs}\nclassic = best setting within the bytes (oracle), where every shape fits")
    print(f"figure written to {path}", file=sys.stderr)


def gallery(tokenizer, shapes, token_counts: list[int], resolution: int, path: Path) -> None:
    """Render a few held-out shapes and their decodes at several K (matplotlib, offscreen)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tokkit.analysis.plots import draw_mesh

    picks = [s for s in shapes if s[0] == "cgal"][:3] + [s for s in shapes if s[0] == "furniture"][:3]
    columns = ["original"] + [f"K={k} ({math.ceil(k * tokenizer.config.bits_per_token / 8) + PLACEMENT_BYTES} B)" for k in token_counts]
    figure = plt.figure(figsize=(2.2 * len(columns), 2.2 * len(picks)))
    for row, (_, name, source) in enumerate(picks):
        shape = read_shape(source)
        unit, _ = normalise(shape)
        full = tokenizer.encode(shape)
        meshes = [(unit.vertices, unit.faces)]
        for k in token_counts:
            codes = full.codes[:k]
            meshes.append(tokenizer.extract(codes, resolution))
        for column, (vertices, faces) in enumerate(meshes):
            axis = figure.add_subplot(len(picks), len(columns), row * len(columns) + column + 1, projection="3d")
            draw_mesh(axis, vertices, faces)
            if row == 0:
                axis.set_title(columns[column], fontsize=8)
            if column == 0:
                axis.text2D(0.0, 0.5, name, transform=axis.transAxes, fontsize=7, rotation=90, va="center")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    print(f"picture written to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
