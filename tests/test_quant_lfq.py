"""LFQ: sign bits as indices, exact round trips, losses and gradients, errors."""

from __future__ import annotations

import pytest
import torch

from tokkit.errors import InputError
from tokkit.quant.lfq import LFQ, LFQConfig


def test_indices_are_sign_bits_first_channel_least_significant() -> None:
    lfq = LFQ(LFQConfig(codebook_size=16)).eval()
    x = torch.tensor([[0.3, -1.0, -0.2, 2.0], [-1.0, -1.0, -1.0, -1.0], [1.0, 1.0, 1.0, 1.0]])
    assert lfq.encode(x).tolist() == [1 + 8, 0, 15]


def test_every_index_round_trips_through_codes_and_encode() -> None:
    lfq = LFQ(LFQConfig(codebook_size=1024, scale=0.5)).eval()
    every = torch.arange(1024)
    codes = lfq.indices_to_codes(every)
    assert set(codes.unique().tolist()) == {-0.5, 0.5}
    assert torch.equal(lfq.codes_to_indices(codes), every)
    assert torch.equal(lfq.encode(lfq.decode(every)), every)


def test_forward_losses_and_gradients() -> None:
    torch.manual_seed(0)
    lfq = LFQ(LFQConfig(codebook_size=256, dim=32)).train()
    x = torch.randn(64, 32, requires_grad=True)
    out = lfq(x)
    assert set(out.losses) == {"commitment", "entropy"}
    assert out.indices.shape == (64,)
    assert torch.equal(out.indices, lfq.encode(x))
    sum(out.losses.values()).backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_entropy_penalty_prefers_confident_diverse_bits() -> None:
    lfq = LFQ(LFQConfig(codebook_size=4))
    confident_diverse = torch.tensor([[5.0, 5.0], [-5.0, -5.0], [5.0, -5.0], [-5.0, 5.0]])
    collapsed = torch.full((4, 2), 5.0)
    unsure = torch.zeros(4, 2)
    scores = [float(lfq._entropy_penalty(z)) for z in (confident_diverse, collapsed, unsure)]
    assert scores[0] < scores[1] and scores[0] < scores[2]


def test_config_and_state_dict() -> None:
    assert LFQ(LFQConfig(codebook_size=16)).state_dict() == {}
    config = LFQConfig(codebook_size=64, dim=8)
    assert LFQConfig.from_json(config.to_json()) == config


def test_bad_input() -> None:
    with pytest.raises(InputError, match="power of two"):
        LFQConfig(codebook_size=1000)
    lfq = LFQ(LFQConfig(codebook_size=16))
    with pytest.raises(InputError, match="shape"):
        lfq.encode(torch.randn(3, 5))
    with pytest.raises(InputError, match="infinite"):
        lfq.encode(torch.tensor([[float("inf"), 0.0, 0.0, 0.0]]))
    with pytest.raises(InputError, match=r"\[0, 16\)"):
        lfq.decode(torch.tensor([-1]))
