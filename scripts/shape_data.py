#!/usr/bin/env python
"""Install and prepare the shape tokenizer's data (the recipe, never the data).

    python scripts/shape_data.py DATA_DIR [--workers 2]
    python scripts/shape_data.py DATA_DIR --heldout-only    # steps 1-2 only: the benchmark's 54 shapes, minutes

1. Fetches the Debian packages ``sweethome3d-furniture`` (820 OBJ models, CC0 / CC-BY, in .sh3f zip
   catalogues) and ``libcgal-demo`` (its data.tar.gz holds CGAL's test meshes) with ``apt-get download``
   and unpacks them with ``dpkg-deb -x`` (no root needed), into DATA_DIR/raw.
2. Splits them: the held-out shapes below are copied to DATA_DIR/heldout/{cgal,furniture} (evaluation
   only, never trained on); CGAL variants of held-out shapes (e.g. a refined copy) are excluded too.
3. Writes DATA_DIR/cache/*.npz training targets (tokkit.codecs.shape.data.shape_targets: surface points
   with normals, query points, watertight occupancy by voxel filling) for every other mesh, plus
   procedural shapes (random unions of boxes, spheres, cylinders, cones, capsules and tori).
Rerunning skips finished cache files. ``--heldout-only`` stops after step 2 (no training targets), so a
fresh machine can run ``benchmarks/shape_quality.py`` within minutes.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
import zipfile
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The 30 CGAL meshes held out for evaluation (data/meshes/NAME.off), never trained on:
CGAL_HELD_OUT = [  # held-out (evaluation only)
    "anchor", "armadillo", "bear", "blade", "bull", "bunny00", "cactus", "camel",  # held-out
    "ChineseDragon-10kv", "cow", "diplodocus", "double-torus-example", "elephant", "elk", "fandisk",  # held-out
    "femur", "hand", "handle", "head", "helmet", "homer", "joint", "knot1", "lion", "man",  # held-out
    "mushroom", "nefertiti", "pig", "rotor", "triceratops",  # held-out
]
# CGAL files that are variants of held-out meshes: excluded from training as well.
CGAL_EXCLUDED_VARIANTS = [  # exclude (copies of held-out shapes)
    "anchor_dense", "bear_bis", "double-torus-3-holes", "elephant-with-holes", "refined_elephant",  # exclude
    "fandisk_large", "lion-head", "knot", "knot2", "pig.stl", "rotor_small",  # exclude
]
# The 24 furniture models held out for evaluation (catalogue/model folder), never trained on:
FURNITURE_HELD_OUT = [  # held-out (evaluation only)
    "blendswap-cc-0/JapaneseLantern", "blendswap-cc-0/childHut", "blendswap-cc-0/hotDog",  # held-out
    "blendswap-cc-0/pianoBench", "blendswap-cc-0/spiralStaircase", "blendswap-cc-0/whiteBoard",  # held-out
    "blendswap-cc-by/chessboard", "blendswap-cc-by/kitchenIsland", "blendswap-cc-by/sef-kasa",  # held-out
    "blendswap-cc-by/wirelessOfficePhone3", "katorlegaz/exterior-door-02", "katorlegaz/porch-column-01",  # held-out
    "reallusion/girlStanding", "scopia/bar_table", "scopia/candle", "scopia/com_bath", "scopia/door",  # held-out
    "scopia/frame2", "scopia/jar", "scopia/mini_stereo", "scopia/plug-TypeE-whites", "scopia/sabalPalmeto",  # held-out
    "scopia/squeezer", "scopia/turn-window",  # held-out
]
PROCEDURAL = 300
MESH_SUFFIXES = (".off", ".obj", ".ply", ".stl")


def fetch(raw: Path) -> None:
    """apt-get download + dpkg-deb -x of the two Debian packages, then unpack their archives."""
    raw.mkdir(parents=True, exist_ok=True)
    debs = raw / "debs"
    debs.mkdir(exist_ok=True)
    if not list(debs.glob("*.deb")):
        subprocess.run(["apt-get", "download", "sweethome3d-furniture", "libcgal-demo"], cwd=debs, check=True)
    unpacked = raw / "deb"
    if not unpacked.is_dir():
        for deb in debs.glob("*.deb"):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    if not (raw / "cgal").is_dir():
        (raw / "cgal").mkdir()
        subprocess.run(["tar", "xzf", str(unpacked / "usr/share/doc/libcgal-dev/data.tar.gz"), "-C", str(raw / "cgal")], check=True)
    if not (raw / "furniture").is_dir():
        for catalogue in sorted((unpacked / "usr/share/sweethome3d/furniture").glob("*.sh3f")):
            with zipfile.ZipFile(catalogue) as archive:
                archive.extractall(raw / "furniture" / catalogue.stem)


def split(raw: Path, heldout: Path | None) -> list[Path]:
    """Copy the held-out shapes out for evaluation (unless ``heldout`` is None); return the training meshes."""
    held_cgal = {name + ".off" for name in CGAL_HELD_OUT}  # held-out
    excluded = {n if "." in n else n + ".off" for n in CGAL_EXCLUDED_VARIANTS}  # exclude
    held_furniture = {name.split("/")[1] for name in FURNITURE_HELD_OUT}  # held-out
    train = []
    if heldout is not None:
        (heldout / "cgal").mkdir(parents=True, exist_ok=True)
        (heldout / "furniture").mkdir(parents=True, exist_ok=True)
    for path in sorted((raw / "cgal/data").rglob("*")):
        if path.suffix.lower() not in MESH_SUFFIXES or path.stat().st_size < 3000:
            continue
        if path.parent.name == "meshes" and path.name in held_cgal:  # held-out: evaluation only
            if heldout is not None:  # held-out: evaluation only
                shutil.copy(path, heldout / "cgal" / path.name)
        elif not (path.parent.name == "meshes" and path.name in excluded):  # exclude held-out variants
            train.append(path)
    for path in sorted((raw / "furniture").rglob("*.obj")):
        if path.parent.name in held_furniture and path.stem == path.parent.name:  # held-out: evaluation only
            if heldout is None:  # held-out: evaluation only, not listed
                continue
            target = heldout / "furniture" / path.parent.name
            if not target.exists():
                shutil.copytree(path.parent, target)
        else:
            train.append(path)
    return train


def procedural(index: int):
    """A random union of 1-4 primitives with random sizes, rotations and offsets (a trimesh)."""
    import trimesh

    rng = np.random.default_rng(10_000 + index)
    parts = []
    for _ in range(rng.integers(1, 5)):
        kind = rng.integers(6)
        if kind == 0:
            part = trimesh.creation.box(extents=rng.uniform(0.1, 1.0, 3))
        elif kind == 1:
            part = trimesh.creation.icosphere(subdivisions=3, radius=rng.uniform(0.1, 0.5))
        elif kind == 2:
            part = trimesh.creation.cylinder(radius=rng.uniform(0.05, 0.4), height=rng.uniform(0.1, 1.0), sections=48)
        elif kind == 3:
            part = trimesh.creation.cone(radius=rng.uniform(0.1, 0.5), height=rng.uniform(0.1, 1.0), sections=48)
        elif kind == 4:
            part = trimesh.creation.capsule(radius=rng.uniform(0.05, 0.3), height=rng.uniform(0.1, 0.8))
        else:
            part = trimesh.creation.torus(major_radius=rng.uniform(0.2, 0.5), minor_radius=rng.uniform(0.03, 0.15))
        matrix = trimesh.transformations.random_rotation_matrix(rng.random(3))
        matrix[:3, 3] = rng.uniform(-0.4, 0.4, 3)
        part.apply_transform(matrix)
        parts.append(part)
    return trimesh.util.concatenate(parts)


def build(job: tuple[str, str, int]) -> str:
    """Write one cache file; returns a status line."""
    source, target, seed = job
    from tokkit.codecs.shape.data import shape_targets
    from tokkit.codecs.shape.io import from_trimesh, read_shape
    from tokkit.errors import TokkitError

    start = time.monotonic()
    try:
        shape = from_trimesh(procedural(seed), source) if source.startswith("procedural:") else read_shape(source)
        targets = shape_targets(shape, seed)
    except (TokkitError, ValueError, MemoryError) as exc:
        return f"skip {source}: {exc}"
    from tokkit.core.atomic import atomic_open

    with atomic_open(target) as handle:
        np.savez_compressed(handle, **targets)
    return f"ok {time.monotonic() - start:5.1f}s {source}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=None, help="target folder (default: DATA_DIR/cache)")
    parser.add_argument("--heldout-only", action="store_true", help="fetch, unpack and copy the 54 held-out "
                        "shapes to DATA_DIR/heldout; build no training cache")
    args = parser.parse_args()
    raw = args.data_dir / "raw"
    fetch(raw)
    train = split(raw, args.data_dir / "heldout")
    if args.heldout_only:
        held = args.data_dir / "heldout"
        count = len(list((held / "cgal").glob("*.off"))) + len([d for d in (held / "furniture").iterdir() if d.is_dir()])
        print(f"{count} held-out shapes in {held} (expected {len(CGAL_HELD_OUT) + len(FURNITURE_HELD_OUT)}); "
              "no training cache built (--heldout-only)", file=sys.stderr)
        return
    cache = args.cache or args.data_dir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    jobs = []
    for i, path in enumerate(train):
        name = "_".join(path.relative_to(raw).with_suffix("").parts[-3:])
        jobs.append((str(path), str(cache / f"{name}.npz"), i))
    jobs += [(f"procedural:{i}", str(cache / f"procedural_{i:04d}.npz"), i) for i in range(PROCEDURAL)]
    todo = [job for job in jobs if not Path(job[1]).exists()]
    np.random.default_rng(0).shuffle(todo)  # mixed order: a partial cache already spans every source
    print(f"{len(train)} training meshes + {PROCEDURAL} procedural; {len(todo)} cache files to build", file=sys.stderr)
    if args.workers == 1:  # in this process: no pool
        for count, job in enumerate(todo, 1):
            print(f"[{count}/{len(todo)}] {build(job)}", file=sys.stderr, flush=True)
        return
    with Pool(args.workers) as pool:
        for count, line in enumerate(pool.imap_unordered(build, todo, chunksize=1), 1):
            print(f"[{count}/{len(todo)}] {line}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
