"""Residual FSQ: prefixes decode, a prefix encode is the prefix of the full encode, quantizer dropout, an
FSQ's weights as level 0, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tokkit.errors import InputError
from tokkit.quant.fsq import FSQ, FSQConfig
from tokkit.quant.rfsq import ResidualFSQ, ResidualFSQConfig


def make(depth: int = 3, **options) -> ResidualFSQ:
    torch.manual_seed(0)
    return ResidualFSQ(ResidualFSQConfig(levels=[5, 4, 3], depth=depth, dim=8, **options)).eval()


def test_prefixes_encode_and_decode_consistently() -> None:
    quantizer = make()
    x = torch.randn(2, 50, 8)
    full = quantizer.encode(x)
    assert full.shape == (2, 50, 3) and int(full.max()) < 60 and quantizer.codebook_size == 60
    assert torch.equal(quantizer.encode(x, 2), full[..., :2])
    out = quantizer(x)
    assert torch.equal(out.indices, full) and float(out.losses["commitment"]) == 0.0
    torch.testing.assert_close(quantizer.decode(full), out.quantized, rtol=1e-5, atol=1e-5)
    errors = [float((quantizer.decode(full[..., :k]) - x).square().mean()) for k in (1, 2, 3)]
    first = FSQ(FSQConfig(levels=[5, 4, 3], dim=8))
    first.load_state_dict(quantizer.levels[0].state_dict())
    torch.testing.assert_close(quantizer.decode(full[..., :1]), first.decode(full[..., 0]))
    assert len(set(errors)) == 3  # each level changes the reconstruction


def test_more_levels_fit_better_after_a_few_steps() -> None:
    quantizer = make(depth=3).train()
    optimizer = torch.optim.Adam(quantizer.parameters(), lr=3e-2)
    x = torch.randn(256, 8)
    for _ in range(60):
        loss = (quantizer(x).quantized - x).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    codes = quantizer.eval().encode(x)
    errors = [float((quantizer.decode(codes[..., :k]) - x).square().mean()) for k in (1, 2, 3)]
    assert errors[0] > errors[1] > errors[2]


def test_quantizer_dropout_keeps_a_prefix_per_sample() -> None:
    quantizer = make(depth=4, quantizer_dropout=1.0, dropout_distribution="pow2").train()
    torch.manual_seed(3)
    indices = quantizer(torch.randn(64, 10, 8)).indices
    kept = (indices >= 0).sum(-1)
    assert torch.all(kept == kept[:, :1])  # one prefix length per sample
    assert set(kept[:, 0].tolist()) <= {1, 2, 4} and len(set(kept[:, 0].tolist())) > 1
    assert torch.all(indices[..., 0] >= 0)


def test_errors_are_input_errors() -> None:
    with pytest.raises(InputError, match="depth"):
        ResidualFSQConfig(depth=0)
    with pytest.raises(InputError, match="levels"):
        ResidualFSQConfig(levels=[1, 4])
    with pytest.raises(InputError, match="probability"):
        ResidualFSQConfig(quantizer_dropout=2.0)
    quantizer = make()
    with pytest.raises(InputError, match="depth must be in"):
        quantizer.encode(torch.randn(3, 8), 4)
    with pytest.raises(InputError, match=r"\(\.\.\., k\)"):
        quantizer.decode(torch.zeros(3, 4, dtype=torch.long))


def test_calibrated_levels_each_reduce_the_latent_error_and_keep_earlier_levels() -> None:
    torch.manual_seed(0)
    quantizer = ResidualFSQ(ResidualFSQConfig(dim=32, depth=3))
    latents = torch.randn(3000, 8) @ torch.randn(8, 32) + 0.05 * torch.randn(3000, 32)
    level_zero = {name: value.clone() for name, value in quantizer.levels[0].state_dict().items()}
    uncalibrated = float((latents - quantizer.decode(quantizer.encode(latents))).pow(2).mean())
    errors = quantizer.calibrate_levels(latents, start=1)
    assert all(torch.equal(value, quantizer.levels[0].state_dict()[name]) for name, value in level_zero.items())
    measured = [float((latents - quantizer.decode(quantizer.encode(latents, depth))).pow(2).mean())
                for depth in (1, 2, 3)]
    np.testing.assert_allclose(measured, errors, rtol=1e-4)
    assert errors[1] < 0.6 * errors[0] and errors[2] < 0.6 * errors[1]  # every added level codes more
    assert errors[2] < 0.5 * uncalibrated
    codes = quantizer.encode(latents)[:, 1]
    assert codes.unique().numel() > 100  # the calibrated level uses its codebook, not a handful of bins
