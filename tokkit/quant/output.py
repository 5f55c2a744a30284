"""What a quantizer's training forward returns; unpacks as ``quantized, indices, losses``."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import torch


class QuantizerOutput(NamedTuple):
    """``quantized`` (..., dim) carries gradients to the input; ``indices`` (...) or (..., depth) int64;
    ``losses`` maps loss names (e.g. "commitment") to scalar tensors, empty when there are none."""

    quantized: torch.Tensor
    indices: torch.Tensor
    losses: dict[str, torch.Tensor]
