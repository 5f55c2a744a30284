"""CPU time to encode and to decode one shape with the shape tokenizer, on the held-out shapes, one torch
thread, beside issue 16's target (encode + decode under 1 s on one core).

    python scripts/shape_data.py DATA --heldout-only     # once: DATA/heldout/{cgal,furniture}
    python benchmarks/shape_speed.py --data DATA/heldout [--model shape|DIR] [--tokens 512] [--resolution 64]
                                     [--digests out.json] [--check-digests other.json]
                                     [--memory 64,256,512 [--code CHECKOUT]]

Per shape: the file is read once (not timed), then ``encode`` (sampling + the encoder + RVQ) and ``decode``
of the K-token prefix (the field + coarse-to-fine grid + marching cubes + placement) are timed separately as
process CPU time (``time.process_time``: every thread of this process; torch is held to one thread) and as
wall time. Prints mean and worst over the shapes for encode, decode and their sum, beside the 1 s target.
``--digests`` writes a SHA-256 of every decoded mesh (vertices and faces bytes); ``--check-digests`` compares
this run's meshes with such a file (e.g. one written by the code before a speed-up): the speed-up is only
valid when every mesh is identical. ``--memory R1,R2,...`` also decodes the first shape's tokens with
``tokkit decode --resolution R`` in a fresh process per R and prints its wall time and peak RSS (GNU time),
beside the same at --resolution 8 (about the RSS of the loaded model); ``--code`` runs those with another checkout (e.g. before a change).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tokkit  # noqa: E402
from tokkit.codecs.shape.io import read_shape  # noqa: E402
from tokkit.core.atomic import atomic_write_text  # noqa: E402
from tokkit.core.tokens import Tokens  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 1.0
ANCHOR = f"Target (issue 16): encode + decode of one shape under {TARGET_S:.0f} s on one core."


def held_out_shapes(folder: Path) -> list[tuple[str, Path]]:
    """(group/name, path) of every held-out shape: cgal/*.off and furniture/NAME/NAME.obj."""
    shapes = [(f"cgal/{p.stem}", p) for p in sorted((folder / "cgal").glob("*.off"))]
    if (folder / "furniture").is_dir():
        shapes += [(f"furniture/{d.name}", d / f"{d.name}.obj") for d in sorted((folder / "furniture").iterdir()) if d.is_dir()]
    if not shapes:
        sys.exit(f"no held-out shapes under {folder}: run python scripts/shape_data.py DATA --heldout-only first")
    return shapes


def mesh_digest(mesh) -> str:
    """SHA-256 of a decoded mesh's float64 vertices and int64 faces."""
    digest = hashlib.sha256(np.ascontiguousarray(np.asarray(mesh.vertices, dtype=np.float64)).tobytes())
    digest.update(np.ascontiguousarray(np.asarray(mesh.faces, dtype=np.int64)).tobytes())
    return digest.hexdigest()


def timed(fn):
    """(result, CPU seconds, wall seconds) of ``fn()``."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the held-out folder (cgal/, furniture/)")
    parser.add_argument("--model", default="shape", help="tokenizer: built-in name or saved folder")
    parser.add_argument("--tokens", type=int, default=0, help="K tokens decoded (default: all, the slowest)")
    parser.add_argument("--resolution", type=int, default=0, help="marching-cubes grid (default: the model's)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N shapes (quick runs)")
    parser.add_argument("--digests", type=Path, help="write a SHA-256 of every decoded mesh to this JSON file")
    parser.add_argument("--check-digests", type=Path, help="compare the decoded meshes with this --digests file")
    parser.add_argument("--memory", default="", help="resolutions at which to measure tokkit decode's peak RSS")
    parser.add_argument("--code", default=str(ROOT), help="checkout whose tokkit --memory runs (default: this one)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    tokenizer = tokkit.load(args.model, device="cpu")
    k = args.tokens or tokenizer.max_tokens
    resolution = args.resolution or tokenizer.resolution
    shapes = held_out_shapes(args.data)[: args.limit or None]
    print(ANCHOR)
    print(f"{len(shapes)} held-out shapes; model {args.model}, K={k} of {tokenizer.max_tokens}, resolution {resolution}, "
          f"torch threads {torch.get_num_threads()}; load average {os.getloadavg()[0]:.2f} at start")
    tokenizer.decode(tokenizer.encode(read_shape(shapes[0][1]), tokens=k), resolution=resolution)  # warm-up
    rows, digests = [], {}
    for name, path in shapes:
        shape = read_shape(path)
        tokens, enc_cpu, enc_wall = timed(lambda: tokenizer.encode(shape, tokens=k))
        mesh, dec_cpu, dec_wall = timed(lambda: tokenizer.decode(Tokens(tokens.codes, tokens.meta), resolution=resolution))
        digests[name] = mesh_digest(mesh)
        rows.append((enc_cpu, dec_cpu, enc_wall, dec_wall))
        print(f"  {name:36s} encode {enc_cpu:.3f} s  decode {dec_cpu:.3f} s CPU  ({len(mesh.faces)} faces)",
              file=sys.stderr, flush=True)
    table = np.array(rows)
    total = table[:, 0] + table[:, 1]
    print(f"CPU seconds per shape (one torch thread), mean / worst over {len(rows)} shapes:")
    for label, values in (("encode", table[:, 0]), ("decode", table[:, 1]), ("encode + decode", total)):
        print(f"  {label:16s} {values.mean():.3f} / {values.max():.3f} s   (target: encode + decode < {TARGET_S:.0f} s)")
    worst = shapes[int(total.argmax())][0]
    verdict = "met" if total.max() < TARGET_S else f"missed on {(total >= TARGET_S).sum()} shapes"
    print(f"  encode + decode: mean {total.mean():.3f} s, worst {total.max():.3f} s ({worst}) vs {TARGET_S:.0f} s target: {verdict}")
    print(f"  wall seconds: encode {table[:, 2].mean():.3f} / {table[:, 2].max():.3f}, decode {table[:, 3].mean():.3f} / "
          f"{table[:, 3].max():.3f}; load average {os.getloadavg()[0]:.2f} at end")
    if args.digests:
        atomic_write_text(args.digests, json.dumps(digests, indent=1))
    if args.check_digests:
        other = json.loads(args.check_digests.read_text())
        common = [n for n in digests if n in other]
        differ = [n for n in common if digests[n] != other[n]]
        print(f"decoded meshes vs {args.check_digests}: {len(common) - len(differ)} of {len(common)} identical"
              + (f"; differ: {', '.join(differ)}" if differ else ""))
    if args.memory:
        memory(shapes[0], args.model, [int(r) for r in args.memory.split(",")], args.code)


def memory(shape: tuple[str, Path], model: str, resolutions: list[int], code: str) -> None:
    """Peak RSS and wall time of ``tokkit decode --resolution R`` (a fresh process each, one torch thread)."""
    env = {**os.environ, "PYTHONPATH": code, "OMP_NUM_THREADS": "1"}

    def run(args: list[str], cwd: str) -> tuple[float, float]:
        report = Path(cwd) / "time.txt"
        subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", str(report), sys.executable, "-m", "tokkit", *args],
                       cwd=cwd, env=env, check=True, capture_output=True)
        seconds, kilobytes = report.read_text().split()[-2:]
        return float(seconds), int(kilobytes) / 1024

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "tokkit", "encode", str(shape[1]), "-t", model, "-o", f"{tmp}/shape.tok"],
                       env=env, check=True, capture_output=True)
        seconds, rss = run(["decode", "shape.tok", "-o", "out.obj", "-f", "--resolution", "8"], tmp)
        print(f"peak RSS of tokkit decode ({shape[0]}, all tokens, checkout {code}); anchor: the model loaded and "
              f"decoded at --resolution 8, {rss:.0f} MB, {seconds:.1f} s:")
        for resolution in resolutions:
            seconds, rss = run(["decode", "shape.tok", "-o", "out.obj", "-f", "--resolution", str(resolution)], tmp)
            print(f"  --resolution {resolution:3d}: {rss:6.0f} MB peak RSS, {seconds:5.1f} s wall")


if __name__ == "__main__":
    main()
