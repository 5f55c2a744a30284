"""Training data for the shape tokenizer: watertight occupancy targets by voxel filling, computed once
per shape into a cache, and a sampler that serves random batches with cube-symmetry augmentation.

Targets: dense area-weighted surface samples mark a ``GRID``^3 voxel shell; the shell is dilated (sealing
pinholes and gaps up to a few voxels), a flood fill from outside makes every enclosed voxel occupied, and
the solid is eroded back by the same amount. Non-watertight,
multi-part and thin (single-sheet) meshes all get a solid, watertight occupancy this way. Query points
(uniform in the cube and near the surface at two noise scales) are labelled by the voxel they fall in.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from tokkit.codecs.shape.io import Shape, normalise, sample_surface
from tokkit.errors import InputError

GRID = 128
SURFACE_POINTS = 4096
UNIFORM_QUERIES = 4096
NEAR_QUERIES = 4096  # per noise scale
NEAR_SIGMAS = (0.005, 0.025)
#: widest gap (voxels) the watertight fill seals, and the solid/shell volume ratio that says it did not leak
MAX_SEAL = 3
ENCLOSED_FACTOR = 1.5


def occupancy_grid(shape: Shape, rng: np.random.Generator, grid: int = GRID) -> np.ndarray:
    """Watertight occupancy (grid, grid, grid) bool of a unit-cube shape, voxel (i, j, k) centred at
    ((i + 0.5) / grid - 0.5, ...).

    The sampled shell has pinholes (a few samples per voxel miss some voxels), so it is dilated before
    the flood fill and the filled solid eroded back (dilate -> fill -> erode, not closing -> fill: a
    closing's erosion reopens the pinholes and the fill leaks, leaving only the shell). When the fill
    still leaks (gaps wider than the dilation), wider dilations are tried, up to ``MAX_SEAL`` voxels.
    """
    from scipy import ndimage

    corners = shape.vertices[shape.faces]
    area = float(np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1).sum() / 2)
    count = int(np.clip(area * grid * grid * 3, 50_000, 400_000))
    points, _ = sample_surface(shape, count, rng)
    index = np.clip(np.floor((points + 0.5) * grid).astype(np.int64), 0, grid - 1)
    margin = MAX_SEAL + 1  # empty voxels around the grid so the fill starts outside and dilations fit
    shell = np.zeros((grid + 2 * margin,) * 3, dtype=bool)
    shell[index[:, 0] + margin, index[:, 1] + margin, index[:, 2] + margin] = True
    solid = shell
    for seal in range(1, MAX_SEAL + 1):
        filled = ndimage.binary_fill_holes(ndimage.binary_dilation(shell, iterations=seal))
        solid = ndimage.binary_erosion(filled, iterations=seal) | shell
        if solid.sum() > ENCLOSED_FACTOR * shell.sum():  # it enclosed a volume: no leak
            break
    inner = slice(margin, -margin)
    return solid[inner, inner, inner]


def lookup(grid: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Occupancy of points (P, 3) in a voxel grid over the unit cube; outside the cube is empty."""
    size = grid.shape[0]
    index = np.floor((points + 0.5) * size).astype(np.int64)
    inside = np.all((index >= 0) & (index < size), axis=1)
    clipped = np.clip(index, 0, size - 1)
    return grid[clipped[:, 0], clipped[:, 1], clipped[:, 2]] & inside


def shape_targets(shape: Shape, seed: int) -> dict[str, np.ndarray]:
    """Everything training needs from one shape (any placement): surface points and normals (float16),
    query points (float16) and their occupancy (bool)."""
    rng = np.random.default_rng(seed)
    unit, _ = normalise(shape)
    if not unit.is_mesh:
        raise InputError("training targets need a mesh (faces), not a point cloud")
    grid = occupancy_grid(unit, rng)
    points, normals = sample_surface(unit, SURFACE_POINTS, rng)
    near = [sample_surface(unit, NEAR_QUERIES, rng)[0] + rng.normal(0, sigma, (NEAR_QUERIES, 3)) for sigma in NEAR_SIGMAS]
    queries = np.concatenate([rng.uniform(-0.55, 0.55, (UNIFORM_QUERIES, 3)), *near])
    return {"points": points.astype(np.float16), "normals": normals.astype(np.float16),
            "queries": queries.astype(np.float16), "occupancy": lookup(grid, queries)}


def cube_symmetries() -> np.ndarray:
    """The 48 signed axis permutations (48, 3, 3): rotations and reflections that map the cube onto itself."""
    import itertools

    mats = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            m = np.zeros((3, 3))
            m[range(3), perm] = signs
            mats.append(m)
    return np.stack(mats)


@dataclasses.dataclass
class Batch:
    """points (B, P, 3), normals (B, P, 3), queries (B, Q, 3), occupancy (B, Q) float."""

    points: torch.Tensor
    normals: torch.Tensor
    queries: torch.Tensor
    occupancy: torch.Tensor


class ShapeSampler:
    """Random training batches from a cache folder of ``*.npz`` targets (one per shape)."""

    def __init__(self, folder: str | Path, input_points: int, seed: int = 0, augment: bool = True,
                 normal_dropout: float = 0.1) -> None:
        self.folder = Path(folder)
        self.items: list[dict[str, np.ndarray]] = []
        self.loaded: set[Path] = set()
        if not self.refresh():
            raise InputError(f"no cached shape targets (*.npz) under {folder}; run scripts/shape_data.py first")
        self.input_points = input_points
        self.rng = np.random.default_rng(seed)
        self.symmetries = cube_symmetries() if augment else np.eye(3)[None]
        self.normal_dropout = normal_dropout

    def refresh(self) -> int:
        """Load cache files that appeared since the last call (a cache still being built); returns how many."""
        added = 0
        for path in sorted(self.folder.rglob("*.npz")):
            if path in self.loaded:
                continue
            try:
                with np.load(path) as data:
                    self.items.append({key: data[key] for key in ("points", "normals", "queries", "occupancy")})
            except Exception:  # noqa: BLE001 - a file still being written (any zip or numpy error)
                continue  # still being written
            self.loaded.add(path)
            added += 1
        return added

    def __len__(self) -> int:
        return len(self.items)

    def batch(self, batch_size: int, queries: int) -> Batch:
        """``batch_size`` random shapes, each with ``input_points`` surface samples and ``queries`` labelled
        points (a third uniform, the rest near the surface), under a random cube symmetry."""
        out = {"points": [], "normals": [], "queries": [], "occupancy": []}
        for _ in range(batch_size):
            item = self.items[self.rng.integers(len(self.items))]
            rotation = self.symmetries[self.rng.integers(len(self.symmetries))]
            pick = self.rng.choice(len(item["points"]), self.input_points, replace=False)
            uniform = self.rng.choice(UNIFORM_QUERIES, queries // 3, replace=False)
            near = UNIFORM_QUERIES + self.rng.choice(len(item["queries"]) - UNIFORM_QUERIES, queries - queries // 3, replace=False)
            chosen = np.concatenate([uniform, near])
            normals = item["normals"][pick].astype(np.float32) @ rotation.T
            if self.rng.random() < self.normal_dropout:
                normals = np.zeros_like(normals)
            out["points"].append(item["points"][pick].astype(np.float32) @ rotation.T)
            out["normals"].append(normals)
            out["queries"].append(item["queries"][chosen].astype(np.float32) @ rotation.T)
            out["occupancy"].append(item["occupancy"][chosen].astype(np.float32))
        return Batch(**{key: torch.from_numpy(np.stack(value)).float() for key, value in out.items()})
