"""Prefix truncation: keep the first k of N positions, k drawn at random, for ordered (nested) tokens.

Tail-token dropping for 1-D image/video tokenizers and RVQ quantizer dropout are the same contract on
different axes: draw k per batch or per sample (uniform on 1..N, or on the powers of two up to N
plus N itself), then mask every position >= k.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch

Distribution = Literal["uniform", "pow2"]


def keep_length_choices(total: int, distribution: Distribution = "uniform") -> list[int]:
    """The values k can take: 1..total ("uniform") or 1, 2, 4, ... <= total and total itself ("pow2")."""
    if total < 1:
        raise ValueError(f"need at least one position to keep, got total={total}")
    if distribution == "uniform":
        return list(range(1, total + 1))
    if distribution == "pow2":
        powers = [1 << i for i in range(total.bit_length()) if (1 << i) <= total]
        return sorted(set(powers) | {total})
    raise ValueError(f"distribution must be 'uniform' or 'pow2', got {distribution!r}")


def sample_keep_lengths(
    total: int,
    batch_size: int,
    *,
    distribution: Distribution = "uniform",
    per_sample: bool = True,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Draw how many leading positions to keep: (batch_size,) int64 in 1..total.

    ``per_sample=False`` draws one k shared by the whole batch.
    """
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    choices = torch.tensor(keep_length_choices(total, distribution), dtype=torch.long)
    draws = batch_size if per_sample else 1
    picks = torch.randint(len(choices), (draws,), generator=generator)
    return choices[picks].expand(batch_size).contiguous().to(device)


def prefix_mask(lengths: torch.Tensor, total: int) -> torch.Tensor:
    """Boolean mask (batch, total): True at positions < lengths[b], the kept prefix."""
    import torch

    positions = torch.arange(total, device=lengths.device)
    return positions[None, :] < lengths[:, None]


def drop_tail(
    x: torch.Tensor,
    *,
    dim: int = 1,
    distribution: Distribution = "uniform",
    per_sample: bool = True,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero all but a random prefix of ``x`` along ``dim`` (batch on dim 0).

    Returns ``(x_masked, lengths)`` with ``lengths`` (batch,) the kept prefix length per sample.
    """
    if x.ndim < 2:
        raise ValueError(f"drop_tail needs a batch axis and a token axis, got shape {tuple(x.shape)}")
    dim = dim % x.ndim
    if dim == 0:
        raise ValueError("drop_tail truncates a token axis, not the batch axis (dim 0)")
    lengths = sample_keep_lengths(
        x.shape[dim], x.shape[0], distribution=distribution, per_sample=per_sample,
        generator=generator, device=x.device,
    )
    mask = prefix_mask(lengths, x.shape[dim])
    shape = [x.shape[0]] + [1] * (x.ndim - 1)
    shape[dim] = x.shape[dim]
    return x * mask.reshape(shape).to(x.dtype), lengths


def check_keep_length(value: Any, total: int, what: str = "tokens") -> int:
    """A user's kept prefix length: ``total`` when None, else an integer in 1..total (InputError otherwise)."""
    import numbers

    from tokkit.errors import InputError

    if value is None:
        return total
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value <= total:
        raise InputError(f"{what} must be an integer from 1 to {total} (this model's N), got {value!r}")
    return int(value)
