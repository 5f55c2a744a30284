"""The shipped shape tokenizer (tokkit/codecs/shape/default): loads by name, any prefix of a shape's
tokens decodes to a mesh in the shape's own placement, longer prefixes change the field."""

from __future__ import annotations

import numpy as np
import pytest

import tokkit
from tokkit.core.tokens import Tokens

from shape_helpers import box_mesh


@pytest.fixture(scope="module")
def shape():
    return tokkit.load("shape", device="cpu")


def test_default_loads_with_its_documented_sizes(shape) -> None:
    facts = shape.describe()
    assert facts["modality"] == "shape" and facts["max_tokens"] == 512 and facts["bits_per_token"] == 10


def test_prefixes_decode_in_the_original_placement(shape) -> None:
    tokens = shape.encode(box_mesh(), tokens=192)
    assert tokens.codes.shape == (192,) and tokens.codes.max() < 1024
    for k in (16, 64, 192):
        mesh = shape.decode(Tokens(tokens.codes[:k], tokens.meta), resolution=16)
        assert len(mesh.faces) > 0, k
        # the grid spans [-0.52, 0.52] of the unit cube: 2.08 x 1.04 around the box's centre
        assert np.all(np.abs(np.asarray(mesh.vertices) - [3.0, -1.0, 0.0]) <= 1.04 + 1e-6), k


def test_each_residual_level_changes_the_field(shape) -> None:
    tokens = shape.encode(box_mesh())
    query = np.random.default_rng(0).uniform(-0.5, 0.5, (500, 3))
    fields = [shape.field(tokens.codes[:k])(query) for k in (64, 128, 512)]
    assert not np.allclose(fields[0], fields[1]) and not np.allclose(fields[1], fields[2])
