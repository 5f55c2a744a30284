"""Shape reconstruction metrics: Chamfer-L1, F-score at distance thresholds, normal consistency.

Both shapes are compared in the reference's frame scaled to longest side 1 (its bounding box centred on
the origin), from area-weighted surface samples (30 000 by default) of each; a point cloud is compared
through its points (no normals: normal consistency is NaN). Conventions follow Occupancy Networks /
3DShape2VecSet: Chamfer-L1 = mean of the two directed mean Euclidean nearest-neighbour distances;
F-score = harmonic mean of precision (predicted samples within t of the reference) and recall.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from tokkit.codecs.shape.io import Shape, placement_of, sample_surface
from tokkit.errors import InputError

SAMPLES = 30_000
THRESHOLDS = (0.01, 0.02)


@dataclasses.dataclass
class ShapeScores:
    """Chamfer-L1 (lower is better), F-score per threshold and normal consistency (higher is better)."""

    chamfer_l1: float
    fscore: dict[float, float]
    normal_consistency: float

    def as_dict(self) -> dict[str, float]:
        out = {"chamfer_l1": self.chamfer_l1, "normal_consistency": self.normal_consistency}
        out.update({f"f@{t:g}": value for t, value in self.fscore.items()})
        return out


def _samples(vertices: np.ndarray, faces: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if len(faces):
        corners = vertices[faces]
        faces = faces[np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1) > 0]
    if len(faces) == 0:
        return vertices, None
    return sample_surface(Shape(vertices, faces), count, np.random.default_rng(seed))


class ReferenceSurface:
    """A reference shape prepared once (placement, surface samples, their normals, a KD-tree) to score
    many predictions against it with :meth:`score`."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, *, samples: int = SAMPLES, seed: int = 0) -> None:
        from scipy.spatial import cKDTree

        vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
        if len(vertices) == 0 or not np.all(np.isfinite(vertices)):
            raise InputError("the reference shape is empty or not finite")
        faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
        self.placement = placement_of(Shape(vertices, faces))
        if self.placement.scale <= 0:
            raise InputError("the reference shape has no extent")
        self.samples, self.seed = samples, seed
        self.points, self.normals = _samples(self.to_unit(vertices), faces, samples, seed)
        self.tree = cKDTree(self.points)

    def to_unit(self, vertices: np.ndarray) -> np.ndarray:
        """Vertices in the reference's frame: bounding box centred, longest side 1."""
        return (np.asarray(vertices, dtype=np.float64).reshape(-1, 3) - np.asarray(self.placement.center)) / self.placement.scale

    def score(self, vertices: np.ndarray, faces: np.ndarray, thresholds: tuple[float, ...] = THRESHOLDS) -> ShapeScores:
        """Scores of a predicted (vertices, faces) in the reference's original coordinates (faces may be
        empty: a point cloud). An empty prediction scores F = 0, Chamfer inf, normal consistency 0."""
        from scipy.spatial import cKDTree

        pred_vertices = self.to_unit(vertices)
        if len(pred_vertices) == 0:
            return ShapeScores(math.inf, {t: 0.0 for t in thresholds}, 0.0)
        pred_points, pred_normals = _samples(pred_vertices, faces, self.samples, self.seed + 1)
        to_ref, index_ref = self.tree.query(pred_points, workers=1)
        to_pred, index_pred = cKDTree(pred_points).query(self.points, workers=1)
        chamfer = 0.5 * (float(to_ref.mean()) + float(to_pred.mean()))
        fscore = {}
        for t in thresholds:
            precision, recall = float((to_ref < t).mean()), float((to_pred < t).mean())
            fscore[t] = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        if pred_normals is None or self.normals is None:
            consistency = math.nan
        else:
            forward = np.abs((pred_normals * self.normals[index_ref]).sum(1)).mean()
            backward = np.abs((self.normals * pred_normals[index_pred]).sum(1)).mean()
            consistency = 0.5 * float(forward + backward)
        return ShapeScores(chamfer, fscore, consistency)


def shape_scores(predicted: tuple[np.ndarray, np.ndarray], reference: tuple[np.ndarray, np.ndarray], *,
                 samples: int = SAMPLES, thresholds: tuple[float, ...] = THRESHOLDS, seed: int = 0) -> ShapeScores:
    """Compare a predicted (vertices, faces) with a reference (vertices, faces); faces may be empty
    (a point cloud). An empty prediction scores F = 0, Chamfer inf, normal consistency 0."""
    return ReferenceSurface(*reference, samples=samples, seed=seed).score(*predicted, thresholds=thresholds)
