"""Finite scalar quantization (Mentzer et al. 2023): round each of a few bounded channels to L levels.

A latent (..., dim) is projected to ``len(levels)`` channels (only when ``dim`` differs), each channel
is squashed by tanh into ``levels[i]`` bins and rounded (straight-through gradient). The index is the
mixed-radix number of the per-channel bins, first channel least significant, so the codebook is
implicit and index <-> code is exact arithmetic.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import torch
from torch import nn

from tokkit.errors import InputError
from tokkit.quant.checks import as_float_tensor, as_index_tensor, check_finite, check_vectors
from tokkit.quant.config import QuantizerConfig
from tokkit.quant.output import QuantizerOutput

if TYPE_CHECKING:
    import numpy as np

_BOUND_EPS = 1e-3  # keeps tanh's range just outside the outermost bins so they are reachable


@dataclasses.dataclass
class FSQConfig(QuantizerConfig):
    """``levels``: bins per channel (each >= 2); ``dim``: latent width (default ``len(levels)``, no
    projection); ``codebook_size``: optional, checked against ``prod(levels)``."""

    levels: list[int] = dataclasses.field(default_factory=lambda: [8, 5, 5, 5])
    dim: int | None = None
    codebook_size: int | None = None

    def __post_init__(self) -> None:
        self.levels = list(self.levels)
        if not self.levels or any(not isinstance(v, int) or v < 2 for v in self.levels):
            raise InputError(f"FSQ levels must be a non-empty list of integers >= 2, got {self.levels}")
        if self.dim is not None and self.dim < 1:
            raise InputError(f"FSQ dim must be >= 1, got {self.dim}")
        size = math.prod(self.levels)
        if self.codebook_size is not None and self.codebook_size != size:
            raise InputError(
                f"FSQ levels {self.levels} give {size} codes, but codebook_size is {self.codebook_size}; "
                "change the levels or drop codebook_size"
            )


class FSQ(nn.Module):
    """Finite scalar quantizer. ``encode`` (..., dim) -> (...) int64; ``decode`` the inverse map to
    vectors; ``forward`` returns :class:`QuantizerOutput` with a straight-through ``quantized``."""

    def __init__(self, config: FSQConfig) -> None:
        super().__init__()
        self.config = config
        levels = config.levels
        self.codebook_dim = len(levels)
        self.dim = config.dim or self.codebook_dim
        self.codebook_size = math.prod(levels)
        has_projection = self.dim != self.codebook_dim
        self.project_in = nn.Linear(self.dim, self.codebook_dim) if has_projection else nn.Identity()
        self.project_out = nn.Linear(self.codebook_dim, self.dim) if has_projection else nn.Identity()

        level_t = torch.tensor(levels, dtype=torch.float32)
        half_range = (level_t - 1) * (1 + _BOUND_EPS) / 2
        offset = torch.where(level_t % 2 == 0, 0.5, 0.0)
        basis = torch.cumprod(torch.tensor([1] + levels[:-1], dtype=torch.long), dim=0)
        self.register_buffer("levels", torch.tensor(levels, dtype=torch.long), persistent=False)
        self.register_buffer("basis", basis, persistent=False)
        self.register_buffer("half_width", torch.div(level_t, 2, rounding_mode="floor"), persistent=False)
        self.register_buffer("half_range", half_range, persistent=False)
        self.register_buffer("offset", offset, persistent=False)
        self.register_buffer("shift", torch.atanh(offset / half_range), persistent=False)

    # -- code space (len(levels) channels, values in [-1, 1]) ------------------------------
    def quantize_codes(self, z: torch.Tensor) -> torch.Tensor:
        """Bound and round projected latents (..., len(levels)) to codes; straight-through gradient."""
        bounded = torch.tanh(z + self.shift) * self.half_range - self.offset
        rounded = bounded + (bounded.round() - bounded).detach()
        return rounded / self.half_width

    def codes_to_indices(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (..., len(levels)) -> indices (...) int64; exact for codes from this quantizer."""
        bins = (codes * self.half_width + self.half_width).round().long()
        return (bins * self.basis).sum(dim=-1)

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices (...) -> codes (..., len(levels)) in [-1, 1]."""
        bins = torch.div(indices[..., None], self.basis, rounding_mode="floor") % self.levels
        return (bins.to(self.half_width.dtype) - self.half_width) / self.half_width

    # -- public API ---------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> QuantizerOutput:
        """Training forward: x (..., dim) -> (quantized (..., dim), indices (...), no losses)."""
        x = self._check_input(x)
        codes = self.quantize_codes(self.project_in(x).float())
        indices = self.codes_to_indices(codes.detach())
        quantized = self.project_out(codes.to(x.dtype))
        return QuantizerOutput(quantized, indices, {})

    @torch.no_grad()
    def encode(self, x: "torch.Tensor | np.ndarray") -> torch.Tensor:
        """Latents (..., dim) -> indices (...) int64."""
        x = self._check_input(as_float_tensor(x, "x"))
        return self.codes_to_indices(self.quantize_codes(self.project_in(x).float()))

    @torch.no_grad()
    def decode(self, indices: "torch.Tensor | np.ndarray") -> torch.Tensor:
        """Indices (...) -> quantized vectors (..., dim), as ``forward`` would produce them."""
        indices = as_index_tensor(indices, "indices", self.codebook_size).to(self.basis.device)
        return self.project_out(self.indices_to_codes(indices))

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        check_vectors(x, self.dim, "x")
        check_finite(x, "x")
        return x
