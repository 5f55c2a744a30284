"""The shape tokenizer's training targets: watertight occupancy by voxel filling is a solid, not a shell."""

from __future__ import annotations

import numpy as np

from tests.shape_helpers import box_mesh


def _unit(vertices, faces):
    from tokkit.codecs.shape.io import Shape, normalise

    return normalise(Shape(np.asarray(vertices, dtype=np.float64), np.asarray(faces, dtype=np.int64)))[0]


def test_a_closed_sphere_is_filled_and_labels_match_the_true_inside() -> None:
    import trimesh

    from tokkit.codecs.shape.data import lookup, occupancy_grid

    sphere = trimesh.creation.icosphere(subdivisions=3)
    grid = occupancy_grid(_unit(sphere.vertices, sphere.faces), np.random.default_rng(0), grid=64)
    assert abs(grid.mean() - np.pi / 6) < 0.05  # the solid ball (0.52 of the cube), not a shell (a few %)
    queries = np.random.default_rng(1).uniform(-0.55, 0.55, (4000, 3))
    truth = np.linalg.norm(queries, axis=1) < 0.5
    far = np.abs(np.linalg.norm(queries, axis=1) - 0.5) > 2 / 64  # away from the voxelised surface
    assert (lookup(grid, queries)[far] == truth[far]).all()


def test_targets_of_a_box_are_balanced_near_the_surface_and_a_sheet_stays_thin() -> None:
    from tokkit.codecs.shape.data import UNIFORM_QUERIES, NEAR_QUERIES, occupancy_grid, shape_targets

    targets = shape_targets(_unit(*box_mesh(extents=(1.0, 0.8, 0.6))), seed=0)
    uniform = targets["occupancy"][:UNIFORM_QUERIES].mean()
    assert 0.3 < uniform < 0.45  # the box fills 0.48 of the unit cube, 0.36 of the query cube
    wide = targets["occupancy"][UNIFORM_QUERIES + NEAR_QUERIES:].mean()  # 0.025 off the surface: half inside
    assert 0.35 < wide < 0.65
    square = _unit(np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float), np.array([[0, 1, 2], [0, 2, 3]]))
    sheet = occupancy_grid(square, np.random.default_rng(0), grid=32)
    assert 0 < sheet.mean() < 3 / 32  # a slab one to three voxels thick


def test_train_warm_starts_from_a_saved_model(run_cli, tmp_path) -> None:
    """`tokkit train shape --init-from DIR`: the run takes the saved layout and starts from its weights."""
    import json

    from tests.shape_helpers import tiny_tokenizer
    from tokkit.codecs.shape.data import shape_targets

    saved = tmp_path / "tiny"
    tiny_tokenizer().save(saved)
    cache = tmp_path / "cache"
    cache.mkdir()
    for i, extents in enumerate([(1.0, 0.8, 0.6), (0.3, 1.0, 0.5)]):
        np.savez(cache / f"box{i}.npz", **shape_targets(_unit(*box_mesh(extents=extents)), seed=i))
    code, out, err = run_cli("train", "shape", "--data", str(cache), "-o", str(tmp_path / "run"), "--init-from",
                             str(saved), "--max-minutes", "0.01", "--batch-size", "2", "--queries", "64")
    assert code == 0, err
    assert "warm start from" in err
    config = json.loads((tmp_path / "run" / "final" / "config.json").read_text())
    assert config["num_latents"] == 8 and config["width"] == 32  # the saved model's layout, not the default's
