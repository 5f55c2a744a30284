#!/usr/bin/env python
"""Calibrate a shape model's iso level (the occupancy logit decode extracts) on TRAINING meshes.

    python scripts/shape_iso_level.py DATA_DIR --model DIR [--every 30] [--tokens 128,512] [--write]

The trained field is soft and its probability-1/2 contour sits outside the true surface (the voxel-filled
targets put the surface half a voxel outward, and a blurry field spreads it further), so extracting at
logit 0 inflates every shape. This takes every ``--every``-th training mesh of DATA_DIR/raw (the list
scripts/shape_data.py trains on; the held-out shapes are never read), decodes each at the ``--tokens``
prefixes on a ``--resolution`` grid, extracts the surface at each candidate level and scores it against
the mesh (F@0.02, tokkit.analysis.shape_metrics, 10 000 samples). It prints the mean per level and K and,
with ``--write``, stores the level of the best mean F@0.02 (over all K) as ``iso_level`` in DIR/config.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="the folder scripts/shape_data.py prepared (raw/ is read)")
    parser.add_argument("--model", required=True, help="a saved shape model folder (or 'shape': print only)")
    parser.add_argument("--every", type=int, default=30, help="use every N-th training mesh")
    parser.add_argument("--tokens", default="128,512", help="K prefixes to calibrate on (comma-separated)")
    parser.add_argument("--levels", default="0,0.25,0.5,0.75,1,1.25,1.5", help="candidate logit levels")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--max-faces", type=int, default=400_000, help="skip larger training meshes (time)")
    parser.add_argument("--write", action="store_true", help="write the best level into the model's config.json")
    args = parser.parse_args()

    import torch
    from skimage import measure

    import tokkit
    from shape_data import split
    from tokkit.analysis.shape_metrics import ReferenceSurface
    from tokkit.codecs.shape import tokenizer as shape_tokenizer
    from tokkit.codecs.shape.io import normalise, read_shape
    from tokkit.core.atomic import atomic_write_text

    torch.set_num_threads(1)
    tokenizer = tokkit.load(args.model, device="cpu")
    current = float(tokenizer.config.iso_level)
    token_counts = [int(k) for k in args.tokens.split(",")]
    levels = [float(v) for v in args.levels.split(",")]
    meshes = split(args.data / "raw", None)[:: args.every]  # training meshes only (held-out not listed)
    size = args.resolution
    axis = shape_tokenizer.grid_points(size + 1)
    nodes = shape_tokenizer._grid_coordinates(axis, *(np.arange(size + 1),) * 3)
    spacing = (2 * shape_tokenizer.GRID_HALF_SPAN / size,) * 3
    scores = {(k, level): [] for k in token_counts for level in levels}
    for path in meshes:
        started = time.monotonic()
        try:
            shape = read_shape(path)
        except Exception as exc:  # noqa: BLE001 - a training file trimesh cannot read: skip it
            print(f"skip {path.name}: {exc}", file=sys.stderr)
            continue
        if not shape.is_mesh or len(shape.faces) > args.max_faces:
            continue
        unit, _ = normalise(shape)
        reference = ReferenceSurface(unit.vertices, unit.faces, samples=10_000)
        full = tokenizer.encode(shape)
        for k in token_counts:
            logits = (tokenizer.field(full.codes[:k])(nodes) + current).reshape((size + 1,) * 3)  # raw logits
            for level in levels:
                if not logits.min() < level < logits.max():
                    scores[k, level].append(0.0)
                    continue
                vertices, faces, _, _ = measure.marching_cubes(logits.astype(np.float32), level=level, spacing=spacing)
                result = reference.score(vertices - shape_tokenizer.GRID_HALF_SPAN, faces[:, ::-1])
                scores[k, level].append(result.fscore[0.02])
        print(f"  {path.name:32s} ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
    count = len(scores[token_counts[0], levels[0]])
    print(f"mean F@0.02 on {count} training meshes (every {args.every}th), resolution {size}, model {args.model}:")
    for level in levels:
        print(f"  level {level:5.2f}  " + "  ".join(f"K={k} {np.mean(scores[k, level]):.3f}" for k in token_counts)
              + f"  mean {np.mean([np.mean(scores[k, level]) for k in token_counts]):.3f}")
    best = max(levels, key=lambda level: np.mean([np.mean(scores[k, level]) for k in token_counts]))
    print(f"best iso level: {best} (was {current})")
    if args.write:
        path = Path(args.model) / "config.json"
        config = json.loads(path.read_text())
        config["iso_level"] = best
        atomic_write_text(path, json.dumps(config, indent=2, sort_keys=True) + "\n")
        print(f"written to {path}")


if __name__ == "__main__":
    main()
