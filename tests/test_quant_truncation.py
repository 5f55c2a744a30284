"""Prefix truncation: k's distribution, the mask, drop_tail, errors."""

from __future__ import annotations

import pytest
import torch

from tokkit.quant.truncation import (
    drop_tail,
    keep_length_choices,
    prefix_mask,
    sample_keep_lengths,
)


def test_choices() -> None:
    assert keep_length_choices(5) == [1, 2, 3, 4, 5]
    assert keep_length_choices(12, "pow2") == [1, 2, 4, 8, 12]
    assert keep_length_choices(16, "pow2") == [1, 2, 4, 8, 16]
    assert keep_length_choices(1, "pow2") == [1]


def test_per_sample_draws_cover_the_range_uniformly() -> None:
    g = torch.Generator().manual_seed(0)
    lengths = sample_keep_lengths(4, 40_000, generator=g)
    counts = torch.bincount(lengths, minlength=5)[1:].double()
    assert int(counts.sum()) == 40_000 and int(lengths.min()) == 1 and int(lengths.max()) == 4
    assert float((counts / 10_000 - 1).abs().max()) < 0.05


def test_per_batch_draw_is_shared() -> None:
    g = torch.Generator().manual_seed(1)
    lengths = sample_keep_lengths(32, 16, distribution="pow2", per_sample=False, generator=g)
    assert lengths.unique().numel() == 1 and int(lengths[0]) in {1, 2, 4, 8, 16, 32}


def test_prefix_mask() -> None:
    mask = prefix_mask(torch.tensor([1, 3, 4]), 4)
    assert mask.tolist() == [[True, False, False, False], [True, True, True, False], [True, True, True, True]]


def test_drop_tail_zeroes_exactly_the_tail() -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(8, 10, 3) + 5  # no zeros in the kept part
    out, lengths = drop_tail(x, dim=1, generator=g)
    for b in range(8):
        k = int(lengths[b])
        assert torch.equal(out[b, :k], x[b, :k])
        assert bool((out[b, k:] == 0).all())
    channels_out, _ = drop_tail(x.transpose(1, 2), dim=-1, generator=torch.Generator().manual_seed(2))
    assert torch.equal(channels_out.transpose(1, 2), out)


def test_errors() -> None:
    with pytest.raises(ValueError, match="distribution"):
        keep_length_choices(4, "geometric")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        keep_length_choices(0)
    with pytest.raises(ValueError, match="batch axis"):
        drop_tail(torch.randn(5))
    with pytest.raises(ValueError, match="batch axis"):
        drop_tail(torch.randn(5, 4), dim=0)
    with pytest.raises(ValueError, match="batch_size"):
        sample_keep_lengths(4, 0)


def test_check_keep_length() -> None:
    from tokkit.errors import InputError
    from tokkit.quant.truncation import check_keep_length

    assert check_keep_length(None, 7) == 7
    assert check_keep_length(3, 7) == 3
    for bad in (0, 8, -1, 2.0, True, "3"):
        with pytest.raises(InputError, match="from 1 to 7"):
            check_keep_length(bad, 7)
