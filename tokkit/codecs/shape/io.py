"""Reading, normalising, sampling and writing 3D shapes.

Meshes (obj, ply, stl, off, glb/gltf) and point clouds (ply without faces, xyz) are read with trimesh;
multi-part files are merged into one shape. Every shape is placed in the unit cube: its bounding box
is centred on the origin and its longest side scaled to 1 (``Placement`` keeps the centre and the
scale so that ``decode`` restores the original size and position).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np

from tokkit.errors import InputError, UnsupportedFormatError

MESH_SUFFIXES = (".obj", ".ply", ".stl", ".off", ".glb", ".gltf")
POINT_SUFFIXES = (".xyz",)
SHAPE_SUFFIXES = MESH_SUFFIXES + POINT_SUFFIXES
OUTPUT_SUFFIXES = (".obj", ".ply", ".stl", ".glb", ".off")
#: refuse input files above this size, before reading them (bounded memory on any input)
MAX_FILE_BYTES = 300 * 1024 * 1024
#: refuse meshes with more faces than this (from the file header when it says, else after reading)
MAX_FACES = 5_000_000
MAX_POINTS = 20_000_000
#: a shape whose longest side is below this (relative to its distance from the origin) is degenerate
MIN_EXTENT = 1e-9
#: a shape whose second or third principal extent is below this fraction of its first is a line or flat
MIN_THICKNESS = 1e-6
#: bytes read at a time when counting an OBJ's face lines (memory stays bounded on any file)
_SCAN_CHUNK = 1 << 24


@dataclasses.dataclass
class Shape:
    """A shape in its own coordinates: ``vertices`` (V, 3) float64 and ``faces`` (F, 3) int64 (F may be 0:
    a point cloud), with optional per-vertex ``normals`` (V, 3) for point clouds."""

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray | None = None

    @property
    def is_mesh(self) -> bool:
        return len(self.faces) > 0


@dataclasses.dataclass
class Placement:
    """Where the unit-cube shape sits in the original coordinates: original = unit * scale + center."""

    center: tuple[float, float, float]
    scale: float

    def to_meta(self) -> dict[str, Any]:
        return {"center": [float(c) for c in self.center], "scale": float(self.scale)}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Placement:
        try:
            center = tuple(float(c) for c in meta["center"])
            scale = float(meta["scale"])
        except (KeyError, TypeError, ValueError):
            raise InputError("the shape tokens carry no valid placement (center, scale); the file is corrupted") from None
        if len(center) != 3 or not np.all(np.isfinite(center)) or not np.isfinite(scale) or scale <= 0:
            raise InputError("the shape tokens carry an invalid placement (center, scale); the file is corrupted")
        return cls(center, scale)  # type: ignore[arg-type]


def _header_counts(path: Path) -> int | None:
    """The face count a ply/off/binary-stl header announces, an OBJ's count of face lines (streamed, not
    parsed) or a glb/gltf's triangle count from its JSON (accessor counts), without reading the geometry;
    None when the file does not say."""
    suffix = path.suffix.lower()
    if suffix == ".obj":
        return _obj_face_lines(path)
    if suffix in (".glb", ".gltf"):
        return _gltf_triangles(path)
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if suffix == ".stl" and not head[:5].lower().startswith(b"solid") and len(head) >= 84:
        return int(np.frombuffer(head[80:84], dtype="<u4")[0])
    if suffix == ".ply":
        match = re.search(rb"element\s+face\s+(\d+)", head)
        return int(match.group(1)) if match else None
    if suffix == ".off":
        lines = [line.strip() for line in head.splitlines() if line.strip() and not line.strip().startswith(b"#")]
        if lines and lines[0].upper().endswith(b"OFF"):
            numbers = lines[0][:-3].split() or (lines[1].split() if len(lines) > 1 else [])
            if len(numbers) >= 2 and numbers[1].isdigit():
                return int(numbers[1])
    return None


def _obj_face_lines(path: Path) -> int:
    """How many lines of an OBJ file start with ``f`` (its polygons), counted chunk by chunk."""
    count, tail = 0, b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(_SCAN_CHUNK):
            data = tail + chunk  # two bytes of the previous chunk: a match may straddle the boundary
            count += data.count(b"\nf ") + data.count(b"\nf\t")
            tail = data[-2:]
    return count


def _gltf_json(path: Path) -> dict | None:
    """The JSON of a .gltf file or of a .glb's first chunk; None when it cannot be read (trimesh then
    reports the corrupt file)."""
    try:
        with open(path, "rb") as handle:
            if path.suffix.lower() == ".gltf":
                return json.loads(handle.read())
            header = handle.read(20)
            if len(header) < 20 or header[:4] != b"glTF":
                return None
            length, kind = struct.unpack("<I4s", header[12:20])
            if kind != b"JSON" or length > MAX_FILE_BYTES:
                return None
            tree = json.loads(handle.read(length))
    except (OSError, ValueError):
        return None
    return tree if isinstance(tree, dict) else None


def _gltf_triangles(path: Path) -> int | None:
    """Triangles a glb/gltf would load into, from its accessor counts: per primitive (indices, else
    positions) / 3 for triangle lists, - 2 for strips, times the nodes that instance each mesh. Triangle
    fans (mode 6), which trimesh would silently skip, are refused."""
    tree = _gltf_json(path)
    if tree is None:
        return None
    try:
        accessors, meshes = tree.get("accessors", []), tree.get("meshes", [])
        instances = [0] * len(meshes)
        for node in tree.get("nodes", []):
            if isinstance(node.get("mesh"), int) and 0 <= node["mesh"] < len(meshes):
                instances[node["mesh"]] += 1
        total = 0
        for mesh, uses in zip(meshes, instances):
            for primitive in mesh.get("primitives", []):
                mode = primitive.get("mode", 4)
                if mode == 6:
                    raise InputError(f"{path} has triangle fans (glTF primitive mode 6), which are not supported; "
                                     "re-export it with triangles")
                if mode not in (4, 5):
                    continue
                index = primitive["indices"] if "indices" in primitive else primitive["attributes"]["POSITION"]
                count = int(accessors[index]["count"])
                total += max(uses, 1) * (count // 3 if mode == 4 else max(count - 2, 0))
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        return None  # malformed: trimesh reports it
    return total


def read_shape(path: str | os.PathLike) -> Shape:
    """Read a mesh or point-cloud file into a :class:`Shape` (multi-part files merged), refusing empty,
    non-finite, oversized or unreadable inputs with an :class:`InputError`."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SHAPE_SUFFIXES:
        raise UnsupportedFormatError(f"{path}: unknown shape format {suffix!r}; use one of {', '.join(SHAPE_SUFFIXES)}")
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path} is empty: no shape to encode")
    if size > MAX_FILE_BYTES:
        raise InputError(f"{path} is {size / 2**20:.0f} MiB, over the {MAX_FILE_BYTES // 2**20} MiB limit; "
                         "simplify the mesh first (e.g. quadric decimation)")
    announced = _header_counts(path)
    if announced is not None and announced > MAX_FACES:
        raise InputError(f"{path} holds {announced} faces (counted before reading), over the {MAX_FACES} limit; "
                         "simplify the mesh first (e.g. quadric decimation)")
    if suffix == ".xyz":
        return _read_xyz(path)
    if suffix == ".off":
        return _read_off(path)
    return _read_trimesh(path)


def _read_off(path: Path) -> Shape:
    """An ASCII OFF file (optionally COFF/NOFF headers, comments, colours after the indices); polygons are
    fan-triangulated. (trimesh's reader fails on polygon faces under numpy 2.)"""
    def fail(reason: str) -> InputError:
        return InputError(f"cannot read {path} as an off file: {reason}")

    try:
        text = path.read_text(encoding="ascii", errors="strict")
    except (UnicodeDecodeError, OSError) as exc:
        raise fail(f"not ASCII OFF ({exc.__class__.__name__}); binary OFF is not supported") from None
    lines = [line.split("#", 1)[0].split() for line in text.splitlines()]
    tokens = [t for t in lines if t]
    if not tokens or not tokens[0][0].upper().endswith("OFF"):
        raise fail("no OFF header")
    header = tokens[0][1:] or (tokens[1] if len(tokens) > 1 else [])
    body = tokens[1:] if tokens[0][1:] else tokens[2:]
    try:
        n_vertices, n_faces = int(header[0]), int(header[1])
    except (IndexError, ValueError):
        raise fail("the counts line (vertices faces edges) is missing or not integers") from None
    if n_vertices < 0 or n_faces < 0 or n_faces > MAX_FACES or n_vertices > MAX_POINTS:
        raise fail(f"implausible counts {n_vertices} vertices, {n_faces} faces")
    if len(body) < n_vertices + n_faces:
        raise fail(f"it announces {n_vertices} vertices and {n_faces} faces but holds {len(body)} lines; it is truncated")
    try:
        vertices = np.array([[float(v) for v in row[:3]] for row in body[:n_vertices]], dtype=np.float64).reshape(-1, 3)
        triangles = []
        for row in body[n_vertices:n_vertices + n_faces]:
            count = int(row[0])
            corners = [int(i) for i in row[1:1 + count]]
            if count < 3 or len(corners) < count:
                raise ValueError(f"a face line lists {len(corners)} of {count} indices")
            triangles.extend((corners[0], corners[i], corners[i + 1]) for i in range(1, count - 1))
    except ValueError as exc:
        raise fail(str(exc)) from None
    faces = np.array(triangles, dtype=np.int64).reshape(-1, 3)
    return check_shape(Shape(vertices, faces), str(path))


def _read_xyz(path: Path) -> Shape:
    try:
        data = np.loadtxt(path, dtype=np.float64, ndmin=2, comments="#", max_rows=MAX_POINTS + 1)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path} as an xyz point cloud (x y z [nx ny nz] per line): {exc}") from None
    if data.size == 0:
        raise InputError(f"{path} holds no points")
    if data.shape[1] not in (3, 6):
        raise InputError(f"{path}: xyz lines need 3 (x y z) or 6 (x y z nx ny nz) numbers, got {data.shape[1]}")
    if len(data) > MAX_POINTS:
        raise InputError(f"{path} holds over {MAX_POINTS} points; subsample it first")
    normals = data[:, 3:6] if data.shape[1] == 6 else None
    return check_shape(Shape(data[:, :3], np.zeros((0, 3), dtype=np.int64), normals), str(path))


def _read_trimesh(path: Path) -> Shape:
    import trimesh

    try:
        loaded = trimesh.load(str(path), process=False, skip_materials=True)
    except Exception as exc:  # trimesh raises many kinds on corrupt files
        raise InputError(f"cannot read {path} as a {path.suffix.lower()[1:]} file: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    return from_trimesh(loaded, str(path))


def from_trimesh(loaded: Any, label: str = "the shape") -> Shape:
    """A trimesh Trimesh, Scene or PointCloud -> :class:`Shape` (scene parts merged in world space)."""
    import trimesh

    if isinstance(loaded, trimesh.Scene):
        parts = [g for g in loaded.dump() if isinstance(g, (trimesh.Trimesh, trimesh.PointCloud))] if loaded.geometry else []
        meshes = [g for g in parts if isinstance(g, trimesh.Trimesh) and len(g.faces)]
        if meshes:
            loaded = trimesh.util.concatenate(meshes)
        elif parts:
            loaded = trimesh.PointCloud(np.concatenate([np.asarray(p.vertices) for p in parts]))
        else:
            raise InputError(f"{label} holds no geometry")
    if isinstance(loaded, trimesh.PointCloud):
        return check_shape(Shape(np.asarray(loaded.vertices, dtype=np.float64), np.zeros((0, 3), dtype=np.int64)), label)
    if not isinstance(loaded, trimesh.Trimesh):
        raise InputError(f"{label} is not a mesh or a point cloud (got {type(loaded).__name__})")
    faces = np.asarray(loaded.faces, dtype=np.int64).reshape(-1, 3)
    return check_shape(Shape(np.asarray(loaded.vertices, dtype=np.float64).reshape(-1, 3), faces), label)


def check_shape(shape: Shape, label: str = "the shape") -> Shape:
    """Refuse empty, non-finite, oversized or degenerate shapes; keep only faces that index vertices."""
    vertices = np.asarray(shape.vertices, dtype=np.float64)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) == 0:
        raise InputError(f"{label} has no vertices: nothing to encode")
    if not np.all(np.isfinite(vertices)):
        raise InputError(f"{label} has NaN or infinite vertex coordinates; repair the file first")
    faces = np.asarray(shape.faces, dtype=np.int64).reshape(-1, 3)
    if len(faces) > MAX_FACES:
        raise InputError(f"{label} has {len(faces)} faces, over the {MAX_FACES} limit; simplify the mesh first")
    if len(faces) and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise InputError(f"{label} has faces that index missing vertices; the file is corrupted")
    check_solid_extent(vertices[np.unique(faces)] if len(faces) else vertices, label)
    if len(faces):
        corners = vertices[faces]
        areas = np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
        faces = faces[areas > 0]
        if len(faces) == 0:
            raise InputError(f"{label} has only zero-area faces: no surface to encode")
    normals = shape.normals
    if normals is not None:
        normals = np.asarray(normals, dtype=np.float64)
        if normals.shape != vertices.shape or not np.all(np.isfinite(normals)):
            normals = None
    return Shape(vertices, faces, normals)


def principal_extents(points: np.ndarray) -> np.ndarray:
    """The extents (3,) of points (P, 3) along their principal axes, largest first."""
    centre = points.mean(0)
    centred = points - centre
    _, axes = np.linalg.eigh(centred.T @ centred)
    low, high = np.full(3, np.inf), np.full(3, -np.inf)
    for start in range(0, len(points), 1 << 20):  # projections in slices: memory bounded on huge meshes
        projected = (points[start:start + (1 << 20)] - centre) @ axes
        low, high = np.minimum(low, projected.min(0)), np.maximum(high, projected.max(0))
    return np.sort(high - low)[::-1]


def check_solid_extent(points: np.ndarray, label: str = "the shape") -> None:
    """Refuse a degenerate shape: a single point, points on one line, or a flat one (all points in one
    plane, to within ``MIN_THICKNESS`` of its longest principal extent). Thin but real 3D shapes pass."""
    span = points.max(0) - points.min(0)
    if span.max() <= MIN_EXTENT * max(1.0, float(np.abs(points).max())):
        raise InputError(f"{label} is a single point (all vertices coincide): no shape to encode")
    extents = principal_extents(points)
    if extents[1] <= MIN_THICKNESS * extents[0]:
        raise InputError(f"{label} is a line: all vertices lie on one line (no surface); "
                         "the shape tokenizer codes solids and surfaces with thickness")
    if extents[2] <= MIN_THICKNESS * extents[0]:
        raise InputError(f"{label} is flat: all vertices lie in one plane (thickness {extents[2]:.3g} of "
                         f"size {extents[0]:.3g}); the shape tokenizer codes solids and surfaces with thickness")


def placement_of(shape: Shape) -> Placement:
    """Bounding-box centre and longest side of the shape's surface (or points)."""
    points = shape.vertices[np.unique(shape.faces)] if shape.is_mesh else shape.vertices
    low, high = points.min(0), points.max(0)
    return Placement(tuple((low + high) / 2), float((high - low).max()))


def normalise(shape: Shape) -> tuple[Shape, Placement]:
    """The shape moved and scaled into the unit cube [-0.5, 0.5]^3 (longest side 1), and its placement."""
    placement = placement_of(shape)
    vertices = (shape.vertices - np.asarray(placement.center)) / placement.scale
    return Shape(vertices, shape.faces, shape.normals), placement


def sample_surface(shape: Shape, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` area-weighted surface samples (count, 3) and their unit normals (count, 3).

    Point clouds are resampled (with replacement when they have fewer points); missing normals are zeros.
    """
    if not shape.is_mesh:
        index = rng.choice(len(shape.vertices), size=count, replace=len(shape.vertices) < count)
        normals = shape.normals[index] if shape.normals is not None else np.zeros((count, 3))
        length = np.linalg.norm(normals, axis=1, keepdims=True)
        return shape.vertices[index], np.where(length > 0, normals / np.maximum(length, 1e-12), 0.0)
    corners = shape.vertices[shape.faces]
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    areas = np.linalg.norm(cross, axis=1)
    cumulative = np.cumsum(areas)
    face = np.minimum(np.searchsorted(cumulative, rng.random(count) * cumulative[-1], side="right"), len(areas) - 1)
    u, v = rng.random(count), rng.random(count)
    flip = u + v > 1
    u, v = np.where(flip, 1 - u, u), np.where(flip, 1 - v, v)
    chosen = corners[face]
    points = chosen[:, 0] + u[:, None] * (chosen[:, 1] - chosen[:, 0]) + v[:, None] * (chosen[:, 2] - chosen[:, 0])
    return points, cross[face] / areas[face, None]


def write_shape(vertices: np.ndarray, faces: np.ndarray, path: str | os.PathLike) -> bytes:
    """Mesh file bytes for ``path``'s suffix (obj, ply, stl, glb, off)."""
    import trimesh

    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"cannot write {path}: use one of {', '.join(OUTPUT_SUFFIXES)}")
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
    data = mesh.export(file_type=suffix[1:])
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)
