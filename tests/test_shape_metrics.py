"""tokkit.analysis.shape_metrics against cases with known answers: identical shapes, a unit cube against the
same cube shifted by d, a sphere against a slightly larger one.

Both surfaces are sampled (independently), so a sampled score sits a little off the exact one: a distance
to the other shape's samples is never below the distance to its surface, and exceeds it by about the
sample spacing (bounded by the self-Chamfer of a shape against itself at the same sample count)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tokkit.analysis.shape_metrics import shape_scores

NONE = np.zeros((0, 3), dtype=np.int64)


def cube(shift: float = 0.0):
    import trimesh

    mesh = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    return np.asarray(mesh.vertices) + [shift, 0.0, 0.0], np.asarray(mesh.faces)


def shifted_cube_chamfer(d: float) -> float:
    """Exact Chamfer-L1 of the unit cube against itself shifted by d along x (0 < d < 1/2): of the six unit
    faces, the outer x face lies d away; the inner one min(d, distances to the side faces); the four
    side faces are on the other cube except a strip of width d (mean distance d/2). Both directions agree."""
    inner = (1 - (1 - 2 * d) ** 3) / 6  # E[min(d, a, b)], a and b uniform on [0, 1/2]
    return (d + inner + 4 * d * d / 2) / 6


def shifted_cube_fscore(d: float, t: float) -> float:
    """Exact F-score at threshold t < d (precision = recall by symmetry): the outer x face is never within t,
    the inner one where a side face is within t, the side faces except their strip beyond t."""
    return ((1 - (1 - 2 * t) ** 2) + 4 * (1 - d + t)) / 6


def test_identical_point_sets_score_exactly_zero_and_one() -> None:
    points = np.random.default_rng(0).uniform(-1, 1, (400, 3))
    scores = shape_scores((points, NONE), (points, NONE))
    assert scores.chamfer_l1 == 0.0
    assert scores.fscore == {0.01: 1.0, 0.02: 1.0}
    assert math.isnan(scores.normal_consistency)  # points carry no normals


def test_identical_meshes_score_near_zero_and_one_within_the_sampling_spacing() -> None:
    vertices, faces = cube()
    coarse = shape_scores((vertices, faces), (vertices, faces))
    assert coarse.chamfer_l1 < 0.01 and coarse.fscore[0.02] > 0.99 and coarse.normal_consistency > 0.98
    fine = shape_scores((vertices, faces), (vertices, faces), samples=200_000)
    assert fine.chamfer_l1 < coarse.chamfer_l1 / 2  # the residual is the spacing of the samples
    assert fine.fscore[0.01] > 0.999 and fine.fscore[0.02] == pytest.approx(1.0)
    assert fine.normal_consistency > 0.99
    # moving, scaling both together changes nothing: the reference's frame is the unit
    moved = shape_scores((vertices * 7 + 3, faces), (vertices * 7 + 3, faces))
    assert moved.chamfer_l1 == pytest.approx(coarse.chamfer_l1, rel=1e-6)


@pytest.mark.parametrize("d", [0.05, 0.2])
def test_a_cube_against_itself_shifted_by_d(d: float) -> None:
    samples = 100_000
    reference, shifted = cube(), cube(d)
    scores = shape_scores(shifted, reference, samples=samples)
    floor = shape_scores(reference, reference, samples=samples).chamfer_l1
    exact = shifted_cube_chamfer(d)
    assert exact - 1e-3 < scores.chamfer_l1 < exact + floor
    for t in (0.01, 0.02):
        assert scores.fscore[t] == pytest.approx(shifted_cube_fscore(d, t), abs=0.01), t
    # normals: the inner x face is orthogonal to the nearest face where a side face is nearer (area
    # 1 - (1 - 2d)^2); the strips of width d beyond the other cube may see either face at the edge
    always = (1 - (1 - 2 * d) ** 2) / 6
    assert 1 - always - 4 * d / 6 - 0.01 < scores.normal_consistency < 1 - always + 0.01


def test_a_sphere_against_a_slightly_larger_sphere() -> None:
    import trimesh

    small = trimesh.creation.icosphere(subdivisions=5, radius=0.5)
    large = trimesh.creation.icosphere(subdivisions=5, radius=0.515)
    scores = shape_scores((large.vertices, large.faces), (small.vertices, small.faces))
    floor = shape_scores((small.vertices, small.faces), (small.vertices, small.faces)).chamfer_l1
    assert 0.015 - 1e-3 < scores.chamfer_l1 < 0.015 + floor  # every point is 0.015 from the other sphere
    assert scores.fscore[0.01] == 0.0  # 0.015 > 0.01 everywhere
    assert scores.fscore[0.02] > 0.98  # 0.015 < 0.02, up to the sample spacing
    assert scores.normal_consistency > 0.999  # concentric: nearest points share the radial normal
    assert shape_scores((np.zeros((0, 3)), NONE), (small.vertices, small.faces)).fscore[0.02] == 0.0
