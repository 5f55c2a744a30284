"""``ShapeTokenizer``: the 3D shape tokenizer behind ``tokkit.load("shape")``.

A mesh or point cloud becomes K tokens (1 <= K <= N = latents x levels, chosen at encode time; fewer
tokens, coarser shape). Tokens are level-major: the first M are every latent's first residual code, the
next M their second codes, and so on; K < M keeps only the first K latents. The tokens record the shape's
placement (bounding-box centre and longest side), and ``decode`` returns a mesh at that size and place,
extracted from the occupancy field by marching cubes on a ``resolution``^3 grid.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Iterable, Sequence

import numpy as np

from tokkit.codecs.shape.config import KIND
from tokkit.codecs.shape.io import (
    SHAPE_SUFFIXES,
    Placement,
    Shape,
    check_shape,
    from_trimesh,
    normalise,
    read_shape,
    sample_surface,
    write_shape,
)
from tokkit.codecs.shape.model import ShapeCodecModel
from tokkit.core.atomic import atomic_write_bytes, check_writable
from tokkit.core.meta import Float, Int
from tokkit.codecs.model_tokenizer import ModelTokenizer
from tokkit.core.tokenizer import Option
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError
from tokkit.quant.truncation import check_keep_length

DEFAULT_RESOLUTION = 64
#: the grid spans a little more than the unit cube so that surfaces on its faces close
GRID_HALF_SPAN = 0.52
#: field queries per forward pass: bounds the decoder's memory at any resolution (the values do not depend on it)
QUERY_CHUNK = 4096
FINAL_BAND = 0.0
SAMPLING_SEED = 0  # fixed: encoding the same shape twice gives the same tokens


class ShapeTokenizer(ModelTokenizer):
    """3DShape2VecSet-style tokenizer: ``encode`` a shape -> (K,) codes; ``decode`` any prefix -> a mesh.

    ``device`` is "auto", "cpu" or "cuda"; ``resolution`` is the default marching-cubes grid size.
    """

    modality: ClassVar[str] = "shape"
    kind: ClassVar[str] = KIND
    input_suffixes: ClassVar[tuple[str, ...]] = SHAPE_SUFFIXES
    output_suffix: ClassVar[str] = ".obj"
    meta_schema: ClassVar[dict] = {
        "scale": Float(0.0, 1e30, required=True), "num_latents": Int(1), "depth": Int(1), "max_tokens": Int(1),
    }
    options: ClassVar[tuple[Option, ...]] = (
        Option("tokens", int, None, "keep the first K tokens of each shape (level-major: fewer latents below "
               "the latent count, fewer residual levels above; coarser shape, smaller file); default: all N",
               low=1, high="max_tokens", metavar="K"),
    )

    def __init__(self, model: ShapeCodecModel, *, device: str = "auto", resolution: int = DEFAULT_RESOLUTION) -> None:
        super().__init__(model, device=device)
        self.resolution = check_resolution(resolution)

    @property
    def max_tokens(self) -> int:
        """N: every latent at every residual level."""
        return self.config.max_tokens

    # -- encode -----------------------------------------------------------------------------
    def encode(self, item: Any, *, tokens: int | None = None) -> Tokens:
        """Encode a trimesh mesh/scene/point cloud, a :class:`Shape`, a ``(vertices, faces)`` pair or a
        point array (P, 3) / (P, 6 with normals) into its first ``tokens`` codes (default: all N)."""
        return self.encode_batch([item], tokens=tokens)[0]

    def encode_file(self, path: str | os.PathLike, *, tokens: int | None = None) -> Tokens:
        """Read a mesh (obj, ply, stl, off, glb) or point cloud (ply, xyz) file and encode it."""
        return self.encode(read_shape(path), tokens=tokens)

    def encode_batch(self, items: Sequence[Any] | Iterable[Any], *, tokens: int | None = None) -> list[Tokens]:
        """Encode many shapes (each sampled, normalised and encoded alone; results equal ``encode``)."""
        import torch

        count = check_keep_length(tokens, self.max_tokens)
        out = []
        for item in items:
            unit, placement = normalise(as_shape(item))
            points, normals = sample_surface(unit, self.config.input_points, np.random.default_rng(SAMPLING_SEED))
            as_tensor = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float32))[None].to(self.device)  # noqa: E731
            codes = self.model.encode(as_tensor(points), as_tensor(normals))[0, :count].cpu().numpy()
            meta = self.base_meta()
            meta.update(placement.to_meta(), num_latents=self.config.num_latents, depth=self.config.depth,
                        max_tokens=self.max_tokens)
            out.append(Tokens(codes.astype(np.int64), meta))
        return out

    # -- decode -----------------------------------------------------------------------------
    def decode(self, tokens: Tokens, *, resolution: int | None = None) -> Any:
        """Tokens (any prefix length 1..N) -> a ``trimesh.Trimesh`` in the original placement, extracted
        on a ``resolution``^3 grid (default: this tokenizer's ``resolution``)."""
        return self.decode_batch([tokens], resolution=resolution)[0]

    def decode_batch(self, batch: Sequence[Tokens], *, resolution: int | None = None) -> list[Any]:
        """Decode many token sequences to meshes."""
        import trimesh

        size = check_resolution(resolution if resolution is not None else self.resolution)
        results = []
        for tokens in batch:
            codes, placement = self._check_codes(tokens)
            vertices, faces = self.extract(codes, size)
            vertices = vertices * placement.scale + np.asarray(placement.center)
            results.append(trimesh.Trimesh(vertices=vertices, faces=faces, process=False))
        return results

    def field(self, codes: np.ndarray, chunk: int = QUERY_CHUNK) -> Any:
        """A callable: points (P, 3) in the unit cube -> occupancy logits minus the config's ``iso_level``
        (P,) of the shape ``codes`` encode: the surface decode extracts is this field's zero level.
        Queries run ``chunk`` points at a time (memory bounded by the chunk, not by P)."""
        import torch

        level = float(self.config.iso_level)

        with torch.inference_mode():
            kv = self.model.decode_field(torch.from_numpy(np.asarray(codes, dtype=np.int64))[None].to(self.device))

        def query(points: np.ndarray) -> np.ndarray:
            values = []
            with torch.inference_mode():
                for start in range(0, len(points), chunk):
                    part = torch.from_numpy(np.asarray(points[start:start + chunk], dtype=np.float32))
                    values.append(self.model.occupancy(part[None].to(self.device), kv)[0].float().cpu().numpy() - level)
            return np.concatenate(values) if values else np.zeros(0, dtype=np.float32)

        return query

    def extract(self, codes: np.ndarray, resolution: int, chunk: int = QUERY_CHUNK) -> tuple[np.ndarray, np.ndarray]:
        """Marching cubes of the decoded field on a ``resolution``^3 grid over the unit cube (evaluated
        coarse first, then exactly only near the surface): (vertices (V, 3) in the unit cube, faces (F, 3))."""
        values = sample_grid(self.field(codes, chunk), resolution, batch=chunk)
        return marching_cubes(values)

    def write_decoded(self, item: Any, path: str | os.PathLike, *, force: bool = False) -> None:
        """Write a decoded mesh atomically; the format follows the suffix (obj, ply, stl, glb, off)."""
        check_writable(path, force=force)
        atomic_write_bytes(path, write_shape(np.asarray(item.vertices), np.asarray(item.faces), path))

    def save(self, directory: str | os.PathLike) -> Path:
        from tokkit.nn.weights import save_weights

        return save_weights(self.model, directory)

    def describe(self) -> dict[str, Any]:
        facts = super().describe()
        facts.update(num_latents=self.config.num_latents, depth=self.config.depth, max_tokens=self.max_tokens,
                     bits_per_token=self.config.bits_per_token, resolution=self.resolution,
                     parameters=sum(p.numel() for p in self.model.parameters()))
        return facts

    # -- internals --------------------------------------------------------------------------
    def example_inputs(self, count: int = 3, seed: int = 0) -> list[Any]:
        """``count`` small synthetic shapes: boxes of different proportions and places as (vertices, faces)."""
        import trimesh

        rng = np.random.default_rng(seed)
        shapes = []
        for _ in range(count):
            mesh = trimesh.creation.box(extents=rng.uniform(0.2, 2.0, 3))
            mesh.apply_translation(rng.uniform(-3, 3, 3))
            shapes.append((np.asarray(mesh.vertices), np.asarray(mesh.faces)))
        return shapes

    def _check_codes(self, tokens: Tokens | np.ndarray) -> tuple[np.ndarray, Placement]:
        codes, meta = self.codes_and_meta(tokens)
        if not isinstance(tokens, Tokens):  # bare ids: the unit cube
            meta = {**meta, "center": [0.0, 0.0, 0.0], "scale": 1.0}
        tokens = Tokens(np.asarray(codes), meta)
        codes = np.asarray(tokens.codes)
        if codes.ndim != 1 or not 1 <= codes.size <= self.max_tokens:
            raise InputError(f"shape tokens must be a 1-D array of 1 to {self.max_tokens} codes, got shape {codes.shape}")
        if codes.min() < 0 or codes.max() >= self.codebook_size:
            raise InputError(f"shape codes must lie in [0, {self.codebook_size}); these tokens are corrupted")
        return codes.astype(np.int64), Placement.from_meta(tokens.meta)


def check_resolution(resolution: Any) -> int:
    """A marching-cubes grid size from 8 to 512."""
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or not 8 <= resolution <= 512:
        raise InputError(f"resolution must be an integer from 8 to 512, got {resolution!r}")
    return int(resolution)


def as_shape(item: Any) -> Shape:
    """Anything ``encode`` accepts -> a checked :class:`Shape`."""
    if isinstance(item, Shape):
        return check_shape(item)
    if isinstance(item, (str, os.PathLike)):
        return read_shape(item)
    if isinstance(item, tuple) and len(item) == 2:
        return check_shape(Shape(np.asarray(item[0], dtype=np.float64), np.asarray(item[1], dtype=np.int64)))
    if isinstance(item, np.ndarray):
        if item.ndim != 2 or item.shape[1] not in (3, 6):
            raise InputError(f"a point array must be (P, 3) or (P, 6) with normals, got shape {item.shape}")
        normals = item[:, 3:6] if item.shape[1] == 6 else None
        return check_shape(Shape(item[:, :3].astype(np.float64), np.zeros((0, 3), dtype=np.int64), normals))
    if type(item).__module__.startswith("trimesh"):
        return from_trimesh(item)
    raise InputError(f"cannot encode a {type(item).__name__}: pass a trimesh object, (vertices, faces), "
                     "a (P, 3) point array or a shape file path")


def grid_points(nodes: int) -> np.ndarray:
    """Coordinates (nodes,) of one axis of the extraction grid."""
    return np.linspace(-GRID_HALF_SPAN, GRID_HALF_SPAN, nodes)


def sample_grid(query: Any, resolution: int, coarse_step: int = 4, band: float = 2.0,
                batch: int = QUERY_CHUNK) -> np.ndarray:
    """Field values on (resolution + 1)^3 grid nodes, coarse to fine: every ``coarse_step``-th node first,
    then each level halves the step and evaluates exactly only the nodes of the cells that the previous
    level marked as near the surface (a sign change among the cell's corners or a corner with
    |value| < ``band``, dilated by one cell); every other node is trilinearly interpolated from the level
    above (far from the surface, where only the sign matters). A node is queried at most once: nodes a
    coarser level already evaluated exactly keep their value. Refined nodes are queried ``batch`` at a time
    (their coordinates are made per batch, so memory beyond the grid itself stays bounded)."""
    import torch
    from scipy import ndimage

    axis = grid_points(resolution + 1)
    step = coarse_step
    while step > 1 and (resolution % step or resolution // step < 4):
        step //= 2
    nodes = resolution // step + 1
    index = np.arange(0, resolution + 1, step)
    values = query(_grid_coordinates(axis, index, index, index)).reshape(nodes, nodes, nodes)
    marked = np.ones((nodes - 1,) * 3, dtype=bool)  # the first level is exact everywhere
    exact = np.ones((nodes,) * 3, dtype=bool)  # nodes holding the field's value, not an interpolation
    while step > 1:  # the finest level's values are final: no near-surface test over the whole grid
        marked &= _near_surface(values, band if step > 2 else FINAL_BAND)
        if step > 2:  # the last level refines only the cells the surface crosses
            marked = ndimage.binary_dilation(marked, iterations=1)
        step //= 2
        nodes = 2 * nodes - 1
        values = np.ascontiguousarray(torch.nn.functional.interpolate(
            torch.from_numpy(values)[None, None], size=(nodes,) * 3, mode="trilinear", align_corners=True)[0, 0].numpy())
        marked = marked.repeat(2, 0).repeat(2, 1).repeat(2, 2)  # a marked cell's eight children
        chosen = np.zeros((nodes,) * 3, dtype=bool)  # every corner of every marked child cell
        for i in (0, 1):
            for j in (0, 1):
                for k in (0, 1):
                    chosen[i:nodes - 1 + i, j:nodes - 1 + j, k:nodes - 1 + k] |= marked
        coarse, exact = exact, np.zeros((nodes,) * 3, dtype=bool)
        exact[::2, ::2, ::2] = coarse  # the previous level's nodes sit at the even indices
        chosen &= ~exact  # queried already: the same point gives the same value
        flat, flat_values = np.flatnonzero(chosen), values.reshape(-1)  # a view: values is contiguous
        for start in range(0, len(flat), batch):
            part = flat[start:start + batch]
            i, j, k = np.unravel_index(part, values.shape)
            flat_values[part] = query(np.stack([axis[i * step], axis[j * step], axis[k * step]], -1))
        exact |= chosen
    return values


def _grid_coordinates(axis: np.ndarray, i: np.ndarray, j: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Points (len(i) * len(j) * len(k), 3) of the grid nodes with those axis indices."""
    return np.stack(np.meshgrid(axis[i], axis[j], axis[k], indexing="ij"), -1).reshape(-1, 3)


def _near_surface(values: np.ndarray, band: float) -> np.ndarray:
    """Cells (n - 1)^3 of node values n^3 whose corners change sign or come within ``band`` of zero."""
    n = values.shape[0] - 1
    low = values[:n, :n, :n].copy()  # running min / max over the eight corners: two arrays, not eight
    high = low.copy()
    for i, j, k in [(i, j, k) for i in (0, 1) for j in (0, 1) for k in (0, 1)][1:]:
        np.minimum(low, values[i:i + n, j:j + n, k:k + n], out=low)
        np.maximum(high, values[i:i + n, j:j + n, k:k + n], out=high)
    return ((low <= 0) & (high > 0)) | (np.minimum(np.abs(low), np.abs(high)) < band)


def marching_cubes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Level-0 surface of field values on the extraction grid: (vertices in the unit cube, faces);
    empty arrays when the field has no surface."""
    from skimage import measure

    if not (values.min() < 0 < values.max()):
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    spacing = (2 * GRID_HALF_SPAN / (values.shape[0] - 1),) * 3
    vertices, faces, _, _ = measure.marching_cubes(values.astype(np.float32), level=0.0, spacing=spacing)
    # occupancy grows inward, so marching cubes' faces point inward: flip them to face outward
    return vertices - GRID_HALF_SPAN, faces[:, ::-1].astype(np.int64)


def load_saved(directory: str | os.PathLike, config: dict, *, device: str = "auto") -> ShapeTokenizer:
    """Registry loader for saved "shape.vecset" folders."""
    from tokkit.codecs.shape.config import ShapeCodecConfig
    from tokkit.nn.weights import load_weights

    return ShapeTokenizer(load_weights(ShapeCodecModel(ShapeCodecConfig.from_dict(config)), directory), device=device)
