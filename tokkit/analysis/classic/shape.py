"""Classic mesh coders as anchors for shape tokenizers, each a ladder of candidates (bytes, vertices, faces)
in the shape's own frame:

- quadric decimation (``fast-simplification``) to a ladder of face counts, stored raw (float32 vertices,
  uint16 or uint32 indices) and with Draco (``DracoPy``, compression level 10, 6-12 quantization bits);
- vertex clustering on a grid of 4-64 cells per side, then Draco;
- farthest-point samples of the surface, stored as float16 xyz (a point cloud, no faces).
"""

from __future__ import annotations

import importlib.util
from typing import Iterator

import numpy as np

from tokkit.analysis.classic import Coded
from tokkit.codecs.shape.io import Shape, sample_surface

FACE_LADDER = (12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
DRACO_BITS = (6, 7, 8, 9, 10, 12)
CLASSIC_METHODS = ("decimation raw", "decimation + draco", "clustering + draco", "farthest points")
CLUSTER_GRIDS = (4, 6, 8, 12, 16, 24, 32, 48, 64)
POINT_COUNTS = (16, 24, 32, 42, 64, 85, 128, 170, 256)
#: how many of the largest candidates that fit a budget ``tokkit compare`` scores (one where more bytes is
#: always better); benchmarks/shape_quality.py scores every fitting candidate (``top=None``)
ORACLE_TOP = {"decimation raw": 1, "decimation + draco": 3, "clustering + draco": 3, "farthest points": 1}
_NEEDS = {"decimation raw": ("fast_simplification",), "decimation + draco": ("fast_simplification", "DracoPy"),
          "clustering + draco": ("DracoPy",), "farthest points": ()}
_PIP = {"fast_simplification": "fast-simplification", "DracoPy": "DracoPy"}


def available() -> dict[str, str | None]:
    """Method -> None when its libraries are installed, else why it is skipped."""
    out: dict[str, str | None] = {}
    for method, modules in _NEEDS.items():
        missing = [m for m in modules if importlib.util.find_spec(m) is None]
        out[method] = f"{method} needs pip install {' '.join(_PIP[m] for m in missing)}" if missing else None
    return out


def raw_bytes(vertices: np.ndarray, faces: np.ndarray) -> int:
    """float32 xyz per vertex and uint16 (or uint32) indices per face."""
    return 12 * len(vertices) + 3 * (2 if len(vertices) < 65536 else 4) * len(faces)


def draco(vertices: np.ndarray, faces: np.ndarray | None, bits: int) -> tuple[int, np.ndarray, np.ndarray]:
    """Draco-encode and decode: (bytes, decoded vertices, decoded faces)."""
    import DracoPy

    data = DracoPy.encode(np.asarray(vertices, dtype=np.float32), None if faces is None else np.asarray(faces, dtype=np.uint32),
                          quantization_bits=bits, compression_level=10)
    decoded = DracoPy.decode(data)
    out_faces = np.asarray(decoded.faces, dtype=np.int64).reshape(-1, 3) if faces is not None else np.zeros((0, 3), np.int64)
    return len(data), np.asarray(decoded.points, dtype=np.float64).reshape(-1, 3), out_faces


def decimations(vertices: np.ndarray, faces: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Quadric decimations of the mesh to each face count of the ladder (below its own)."""
    import fast_simplification

    out = []
    for count in FACE_LADDER:
        if count >= len(faces):
            out.append((vertices, faces))
            break
        try:
            v, f = fast_simplification.simplify(vertices.astype(np.float32), faces.astype(np.int32), target_count=count)
        except Exception:  # noqa: BLE001 - a mesh the decimator cannot handle just has no rung here
            continue
        if len(f):
            out.append((np.asarray(v, dtype=np.float64), np.asarray(f, dtype=np.int64)))
    return out


def cluster(vertices: np.ndarray, faces: np.ndarray, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertex clustering: vertices in one of cells^3 grid cells merge to their mean; collapsed and
    duplicate faces are dropped."""
    low, high = vertices.min(0), vertices.max(0)
    size = (high - low).max() / cells
    keys = np.minimum(((vertices - low) / size).astype(np.int64), cells - 1)
    _, label, counts = np.unique(keys[:, 0] * cells * cells + keys[:, 1] * cells + keys[:, 2], return_inverse=True, return_counts=True)
    merged = np.zeros((len(counts), 3))
    np.add.at(merged, label, vertices)
    merged /= counts[:, None]
    f = label[faces]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    f = np.unique(np.sort(f, axis=1), axis=0) if len(f) else f
    return merged, f


def farthest_points(points: np.ndarray, count: int) -> np.ndarray:
    """Greedy farthest-point subset of ``count`` points."""
    chosen = [0]
    distance = np.linalg.norm(points - points[0], axis=1)
    for _ in range(1, min(count, len(points))):
        chosen.append(int(distance.argmax()))
        distance = np.minimum(distance, np.linalg.norm(points - points[chosen[-1]], axis=1))
    return points[chosen]


def candidates(method: str, shape: Shape, decimated: list | None = None) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """One method's (bytes, vertices, faces) candidates for a mesh; ``decimated`` reuses :func:`decimations`."""
    v, f = shape.vertices, shape.faces
    out: list[tuple[int, np.ndarray, np.ndarray]] = []
    if method in ("decimation raw", "decimation + draco"):
        for dv, df in decimations(v, f) if decimated is None else decimated:
            if method == "decimation raw":
                out.append((raw_bytes(dv, df), dv, df))
            else:
                out.extend(draco(dv, df, bits) for bits in DRACO_BITS)
    elif method == "clustering + draco":
        for cells in CLUSTER_GRIDS:
            cv, cf = cluster(v, f, cells)
            if len(cf):
                out.extend(draco(cv, cf, bits) for bits in DRACO_BITS)
    elif method == "farthest points":
        surface, _ = sample_surface(shape, 20_000, np.random.default_rng(0))
        for count in POINT_COUNTS:
            points = farthest_points(surface, count).astype(np.float16).astype(np.float64)
            out.append((6 * len(points), points, np.zeros((0, 3), np.int64)))
    else:
        raise KeyError(method)
    return out


def classic_candidates(shape: Shape) -> dict[str, list[tuple[int, np.ndarray, np.ndarray]]]:
    """Every anchor's (bytes, vertices, faces) candidates for one shape (in its unit-cube frame)."""
    decimated = decimations(shape.vertices, shape.faces)
    return {method: candidates(method, shape, decimated) for method in CLASSIC_METHODS}


def best_within(candidates, budget: int, reference, cache: dict, top: int | None = None) -> dict | None:
    """The best-F@0.02 of the candidates whose bytes fit ``budget``: all of them (``top=None``) or only the
    ``top`` largest (scores cached by candidate, so several budgets score each candidate once)."""
    fitting = sorted((c for c in candidates if c[0] <= budget), key=lambda c: -c[0])
    best = None
    for candidate in fitting if top is None else fitting[:top]:
        key = id(candidate[1])
        if key not in cache:
            cache[key] = reference.score(candidate[1], candidate[2]).as_dict()
        scores = dict(cache[key], bytes=candidate[0])
        if best is None or scores["f@0.02"] > best["f@0.02"]:
            best = scores
    return best


def ladder(method: str, shape: Shape) -> Iterator[Coded]:
    """Every candidate of ``method`` for a mesh, decoded = (vertices, faces) in the shape's frame."""
    for size, vertices, faces in candidates(method, shape):
        yield Coded(size, (vertices, faces), f"{len(vertices)} vertices, {len(faces)} faces")
