"""Input checks shared by the quantizers: one clear InputError instead of a deep torch failure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tokkit.errors import InputError

if TYPE_CHECKING:
    import torch


def as_float_tensor(value: Any, name: str) -> torch.Tensor:
    """A floating tensor from a tensor or numpy array; integer input is refused."""
    import torch

    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise InputError(f"{name} must be a torch tensor or numpy array, got {type(value).__name__}")
    if not value.is_floating_point():
        raise InputError(f"{name} must hold floating-point values, got dtype {value.dtype}")
    return value


def as_index_tensor(value: Any, name: str, cardinality: int) -> torch.Tensor:
    """A LongTensor of indices in [0, cardinality) from a tensor, numpy array or sequence."""
    import torch

    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    elif not isinstance(value, torch.Tensor):
        value = torch.as_tensor(value)
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise InputError(f"{name} must hold integers, got dtype {value.dtype}")
    if value.numel() == 0:
        raise InputError(f"{name} is empty: there is nothing to decode")
    low, high = int(value.min()), int(value.max())
    if low < 0 or high >= cardinality:
        raise InputError(
            f"{name} must lie in [0, {cardinality}), found values in [{low}, {high}]; "
            "were these tokens made by a quantizer with a different codebook size?"
        )
    return value.long()


def check_codebook(codebook: torch.Tensor) -> None:
    """A codebook is a finite (K, d) matrix with K >= 1 and d >= 1."""
    if codebook.ndim != 2 or codebook.shape[0] < 1 or codebook.shape[1] < 1:
        raise InputError(f"codebook must have shape (K, d) with K, d >= 1, got {tuple(codebook.shape)}")
    check_finite(codebook, "codebook")


def check_vectors(x: torch.Tensor, dim: int, name: str) -> None:
    """``x`` has shape (..., dim) and at least one vector."""
    if x.ndim < 1 or x.shape[-1] != dim:
        raise InputError(f"{name} must have shape (..., {dim}), got {tuple(x.shape)}")
    if x.numel() == 0:
        raise InputError(f"{name} is an empty batch (shape {tuple(x.shape)}): pass at least one vector")


def check_finite(x: torch.Tensor, name: str) -> None:
    """Refuse NaN or infinite values, naming how many there are."""
    import torch

    if bool(torch.isfinite(x.sum())):  # one pass, no copy; NaN/inf propagate (overflow: exact check)
        return
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        raise InputError(
            f"{name} holds {int(bad.sum())} NaN or infinite value(s); check the input or the model upstream"
        )
