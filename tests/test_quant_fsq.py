"""FSQ: parity with vector-quantize-pytorch, exact index <-> code, gradients, config, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tokkit.errors import InputError
from tokkit.quant.fsq import FSQ, FSQConfig


@pytest.mark.parametrize("levels", [[8, 5, 5, 5], [8, 8, 8, 5, 5, 5], [7, 6, 3]])
def test_indices_match_vector_quantize_pytorch(levels: list[int]) -> None:
    from vector_quantize_pytorch import FSQ as ReferenceFSQ

    reference = ReferenceFSQ(levels=levels).eval()
    ours = FSQ(FSQConfig(levels=levels)).eval()
    x = 2.5 * torch.randn(4, 500, len(levels), generator=torch.Generator().manual_seed(0))
    ref_out, ref_idx = reference(x)
    out = ours(x)
    assert torch.equal(ours.encode(x), ref_idx.long())
    assert torch.equal(out.indices, ref_idx.long())
    torch.testing.assert_close(out.quantized, ref_out, rtol=0, atol=1e-6)
    torch.testing.assert_close(ours.decode(ref_idx.long()), reference.indices_to_codes(ref_idx), rtol=0, atol=1e-6)


def test_projection_parity_with_copied_weights() -> None:
    from vector_quantize_pytorch import FSQ as ReferenceFSQ

    reference = ReferenceFSQ(levels=[8, 5, 5, 5], dim=32).eval()
    ours = FSQ(FSQConfig(levels=[8, 5, 5, 5], dim=32)).eval()
    ours.project_in.load_state_dict(reference.project_in.state_dict())
    ours.project_out.load_state_dict(reference.project_out.state_dict())
    x = torch.randn(2, 300, 32, generator=torch.Generator().manual_seed(1))
    ref_out, ref_idx = reference(x)
    assert torch.equal(ours.encode(x), ref_idx.long())
    torch.testing.assert_close(ours(x).quantized, ref_out, rtol=0, atol=1e-5)


@pytest.mark.parametrize("levels", [[8, 5, 5, 5], [2, 3, 4], [16, 16]])
def test_every_index_round_trips_exactly(levels: list[int]) -> None:
    fsq = FSQ(FSQConfig(levels=levels)).eval()
    every = torch.arange(fsq.codebook_size)
    codes = fsq.indices_to_codes(every)
    assert torch.equal(fsq.codes_to_indices(codes), every)
    assert codes.unique(dim=0).shape[0] == fsq.codebook_size
    assert float(codes.min()) >= -1 and float(codes.max()) <= 1


def test_encode_then_decode_then_encode_is_stable() -> None:
    fsq = FSQ(FSQConfig(levels=[8, 5, 5, 5])).eval()
    x = 3 * torch.randn(1000, 4, generator=torch.Generator().manual_seed(2))
    idx = fsq.encode(x)
    assert torch.equal(fsq.codes_to_indices(fsq.decode(idx)), idx)
    assert int(idx.min()) >= 0 and int(idx.max()) < 1000


def test_straight_through_gradient_reaches_the_input_and_projections() -> None:
    fsq = FSQ(FSQConfig(levels=[8, 5, 5, 5], dim=16))
    x = torch.randn(10, 16, requires_grad=True)
    out = fsq(x)
    assert out.losses == {}
    out.quantized.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert fsq.project_in.weight.grad is not None and fsq.project_in.weight.grad.abs().sum() > 0


def test_state_dict_holds_only_learned_weights_and_config_round_trips() -> None:
    assert FSQ(FSQConfig(levels=[8, 5, 5, 5])).state_dict() == {}
    projected = FSQ(FSQConfig(levels=[8, 5, 5, 5], dim=8))
    assert sorted(projected.state_dict()) == [
        "project_in.bias", "project_in.weight", "project_out.bias", "project_out.weight"
    ]
    config = FSQConfig(levels=(8, 5, 5, 5), dim=8)
    assert FSQConfig.from_json(config.to_json()) == config
    assert json.loads(config.to_json())["levels"] == [8, 5, 5, 5]


def test_numpy_input() -> None:
    fsq = FSQ(FSQConfig(levels=[8, 5, 5, 5]))
    x = np.random.default_rng(0).normal(size=(7, 4)).astype(np.float32)
    assert torch.equal(fsq.encode(x), fsq.encode(torch.from_numpy(x)))
    assert torch.equal(fsq.decode(np.arange(5)), fsq.decode(torch.arange(5)))


def test_bad_config_and_input() -> None:
    with pytest.raises(InputError, match="give 1000 codes"):
        FSQConfig(levels=[8, 5, 5, 5], codebook_size=1024)
    with pytest.raises(InputError, match="levels"):
        FSQConfig(levels=[8, 1])
    with pytest.raises(InputError, match="no field"):
        FSQConfig.from_dict({"levels": [8, 5], "codebooks": 2})
    fsq = FSQ(FSQConfig(levels=[8, 5, 5, 5]))
    with pytest.raises(InputError, match=r"shape \(\.\.\., 4\)"):
        fsq.encode(torch.randn(3, 5))
    with pytest.raises(InputError, match="empty"):
        fsq.encode(torch.randn(0, 4))
    with pytest.raises(InputError, match="NaN"):
        fsq(torch.full((2, 4), float("nan")))
    with pytest.raises(InputError, match=r"\[0, 1000\)"):
        fsq.decode(torch.tensor([0, 1000]))
    with pytest.raises(InputError, match="integers"):
        fsq.decode(torch.tensor([0.5]))
