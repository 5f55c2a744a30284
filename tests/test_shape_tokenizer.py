"""The shape tokenizer's contract with a tiny untrained model: prefixes, placement, formats, errors."""

from __future__ import annotations

import numpy as np
import pytest

import tokkit
from tokkit.errors import InputError, TokkitError

from shape_helpers import box_mesh, tiny_tokenizer, write_obj


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def test_token_prefixes_equal_truncated_full_encoding(tokenizer) -> None:
    full = tokenizer.encode(box_mesh())
    assert full.codes.shape == (tokenizer.max_tokens,) == (24,)
    for k in (1, 5, 8, 9, 17, 24):
        assert np.array_equal(tokenizer.encode(box_mesh(), tokens=k).codes, full.codes[:k])


def test_every_prefix_decodes_to_a_mesh_in_the_original_placement(tokenizer) -> None:
    tokens = tokenizer.encode(box_mesh())
    for k in (1, 7, 8, 12, 24):
        prefix = tokkit.Tokens(tokens.codes[:k], tokens.meta)
        mesh = tokenizer.decode(prefix, resolution=16)
        if len(mesh.vertices):  # an untrained field may have no surface; when it has, it sits in the box's cube
            assert np.all(mesh.vertices.min(0) >= np.array([3, -1, 0]) - 1.05)
            assert np.all(mesh.vertices.max(0) <= np.array([3, -1, 0]) + 1.05)


def test_fewer_levels_change_only_the_tail_latents_depth(tokenizer) -> None:
    """Level-major order: dropping the last level's tokens is the same as encoding at depth - 1."""
    import torch

    tokens = tokenizer.encode(box_mesh())
    m, depth = tokenizer.config.num_latents, tokenizer.config.depth
    grid = tokens.codes.reshape(depth, m).T  # (latents, levels)
    direct = tokenizer.model.quantizer.decode(torch.from_numpy(grid[:, : depth - 1]))
    padded = np.concatenate([grid[:, : depth - 1], -np.ones((m, 1), dtype=np.int64)], axis=1)
    masked = tokenizer.model.quantizer.decode(torch.from_numpy(padded), missing_ok=True)
    assert torch.allclose(direct, masked)


def test_encoding_is_deterministic_and_placement_is_recorded(tokenizer) -> None:
    a, b = tokenizer.encode(box_mesh()), tokenizer.encode(box_mesh())
    assert a == b
    assert a.meta["center"] == pytest.approx([3.0, -1.0, 0.0]) and a.meta["scale"] == pytest.approx(2.0)


def test_point_clouds_and_files_encode(tokenizer, tmp_path) -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(500, 3))
    assert len(tokenizer.encode(points, tokens=4)) == 4
    np.savetxt(tmp_path / "cloud.xyz", np.hstack([points, points / np.linalg.norm(points, axis=1, keepdims=True)]))
    assert len(tokenizer.encode_file(tmp_path / "cloud.xyz")) == 24
    write_obj(tmp_path / "box.obj", *box_mesh())
    assert tokenizer.encode_file(tmp_path / "box.obj") == tokenizer.encode(box_mesh())


def test_a_flat_sheet_is_refused_and_a_thin_slab_encodes(tokenizer) -> None:
    import trimesh

    vertices = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=float)
    with pytest.raises(InputError, match="flat: all vertices lie in one plane"):
        tokenizer.encode((vertices, np.array([[0, 1, 2], [0, 2, 3]])))
    slab = trimesh.creation.box(extents=(1.0, 1.0, 1e-4))
    assert tokenizer.encode((slab.vertices, slab.faces)).meta["scale"] == pytest.approx(1.0)


@pytest.mark.parametrize("k", [0, 25, -1, 2.5, True])
def test_token_count_out_of_range_is_refused(tokenizer, k) -> None:
    with pytest.raises(InputError, match="tokens must be an integer from 1 to 24"):
        tokenizer.encode(box_mesh(), tokens=k)


def test_corrupted_codes_and_placement_are_refused(tokenizer) -> None:
    tokens = tokenizer.encode(box_mesh())
    with pytest.raises(TokkitError, match="corrupted"):
        tokenizer.decode(tokkit.Tokens(np.full(4, 99), tokens.meta))
    meta = dict(tokens.meta, scale=-1.0)
    with pytest.raises(TokkitError, match="scale=-1.0"):
        tokenizer.decode(tokkit.Tokens(tokens.codes, meta))
    with pytest.raises(InputError, match="resolution"):
        tokenizer.decode(tokens, resolution=4)


def test_saved_folder_round_trips(tokenizer, tmp_path) -> None:
    tokenizer.save(tmp_path / "model")
    loaded = tokkit.load(tmp_path / "model", device="cpu")
    assert loaded.identity["hash"] == tokenizer.identity["hash"]
    assert loaded.encode(box_mesh()).codes.tolist() == tokenizer.encode(box_mesh()).codes.tolist()


def test_iso_level_is_the_extracted_logit_and_is_saved(tokenizer, tmp_path) -> None:
    """decode extracts the field's ``iso_level`` contour: the field is shifted by it, the config keeps it."""
    import dataclasses

    from tokkit.codecs.shape.tokenizer import ShapeTokenizer

    codes = tokenizer.encode(box_mesh()).codes
    points = np.random.default_rng(0).uniform(-0.5, 0.5, (200, 3))
    shifted_model = type(tokenizer.model)(dataclasses.replace(tokenizer.config, iso_level=1.5))
    shifted_model.load_state_dict(tokenizer.model.state_dict())
    shifted = ShapeTokenizer(shifted_model.eval(), device="cpu")
    assert np.allclose(shifted.field(codes)(points), tokenizer.field(codes)(points) - 1.5, atol=1e-5)
    assert shifted.identity["hash"] != tokenizer.identity["hash"]
    shifted.save(tmp_path / "shifted")
    assert tokkit.load(tmp_path / "shifted", device="cpu").config.iso_level == 1.5
    with pytest.raises(InputError, match="iso_level"):
        dataclasses.replace(tokenizer.config, iso_level=float("nan"))


def test_chunked_field_queries_decode_the_same_mesh(tokenizer) -> None:
    """Querying the field a few points at a time (bounded memory) gives the mesh of one big pass: the same
    faces, vertices equal up to float32 rounding (a matmul over a few rows may round its last bit differently)."""
    codes = tokenizer.encode(box_mesh()).codes
    small = tokenizer.extract(codes, 16, chunk=100)
    whole = tokenizer.extract(codes, 16, chunk=10**7)
    assert len(small[1]) > 0
    assert np.array_equal(small[1], whole[1])
    assert np.allclose(small[0], whole[0], rtol=0, atol=1e-6)


def test_the_coarse_to_fine_grid_queries_each_node_once_and_keeps_exact_values() -> None:
    """sample_grid never asks for a grid node twice, and every node it asked for keeps the field's value."""
    from tokkit.codecs.shape.tokenizer import grid_points, sample_grid

    asked = []

    def sphere(points: np.ndarray) -> np.ndarray:  # inside positive, like occupancy logits
        asked.append(np.asarray(points).copy())
        return (0.3 - np.linalg.norm(points, axis=1)) * 10

    values = sample_grid(sphere, 32)
    points = np.concatenate(asked)
    assert len(np.unique(points, axis=0)) == len(points)  # no node evaluated twice
    axis = grid_points(33)
    index = np.rint((points + 0.52) / (axis[1] - axis[0])).astype(int)
    assert np.allclose(values[index[:, 0], index[:, 1], index[:, 2]], sphere(points))
    assert len(points) < 33 ** 3 / 2  # coarse to fine: far from every node
