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

from tokkit.core.config import JsonConfig
from tokkit.errors import InputError
from tokkit.quant.base import ROWS_PER_THREAD, Quantizer
from tokkit.quant.output import QuantizerOutput

if TYPE_CHECKING:
    import numpy as np

_BOUND_EPS = 1e-3  # keeps tanh's range just outside the outermost bins so they are reachable
#: half-width of the window around each bin boundary, in bins per (half_range + 1): ~1000 float32 roundings,
#: far beyond the error of torch's float32 bound-and-round; latents inside it are decided by torch itself
_WINDOW = 2.0**-14


@dataclasses.dataclass
class FSQConfig(JsonConfig):
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


class FSQ(Quantizer):
    """Finite scalar quantizer. ``encode`` (..., dim) -> (...) int64; ``decode`` the inverse map to
    vectors; ``forward`` returns :class:`QuantizerOutput` with a straight-through ``quantized``."""

    def __init__(self, config: FSQConfig) -> None:
        super().__init__()
        self.config = config
        levels = config.levels
        self.codebook_size = math.prod(levels)
        self._set_widths(config.dim or len(levels), len(levels))

        # Per-channel constants are (C, 1) columns: the math runs channels-first, (C, M), because
        # broadcasting a short last axis is a slow path in torch's CPU kernels (~100x here).
        level_t = torch.tensor(levels, dtype=torch.float32)[:, None]
        half_range = (level_t - 1) * (1 + _BOUND_EPS) / 2
        offset = torch.where(level_t % 2 == 0, 0.5, 0.0)
        basis = torch.cumprod(torch.tensor([1] + levels[:-1], dtype=torch.long), dim=0)[:, None]
        self.register_buffer("levels", torch.tensor(levels, dtype=torch.long)[:, None], persistent=False)
        self.register_buffer("basis", basis, persistent=False)
        self.register_buffer("half_width", torch.div(level_t, 2, rounding_mode="floor"), persistent=False)
        self.register_buffer("half_range", half_range, persistent=False)
        self.register_buffer("offset", offset, persistent=False)
        self.register_buffer("shift", torch.atanh(offset / half_range), persistent=False)
        self._thresholds = self._boundary_windows()  # CPU float64, for the compiled pass

    def _boundary_windows(self) -> torch.Tensor:
        """(C, max(levels) - 1, 2) float64: for each channel and bin boundary, the open interval of
        latents around it where float32 rounding could put a latent in either bin (+inf pads)."""
        levels = self.config.levels
        table = torch.full((len(levels), max(levels) - 1, 2), float("inf"), dtype=torch.float64)
        for ch, count in enumerate(levels):
            half_range = float(self.half_range[ch, 0])
            offset, shift = float(self.offset[ch, 0]), float(self.shift[ch, 0])
            delta = _WINDOW * (half_range + 1)
            for j in range(count - 1):
                boundary = -(count // 2) + 0.5 + j  # rounded value changes here
                for side, sign in ((0, -1.0), (1, 1.0)):
                    arg = (boundary + sign * delta + offset) / half_range
                    table[ch, j, side] = sign * math.inf if abs(arg) >= 1 else math.atanh(arg) - shift
        return table

    # -- code space (len(levels) channels, values in [-1, 1]) ------------------------------
    def quantize_codes(self, z: torch.Tensor) -> torch.Tensor:
        """Bound and round projected latents (..., len(levels)) to codes; straight-through gradient."""
        rounded = self._round_ste(self._bound(self._channels_first(z)))
        return self._channels_last(rounded / self.half_width, z.shape[:-1])

    def codes_to_indices(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (..., len(levels)) -> indices (...) int64; exact for codes from this quantizer."""
        bins = (self._channels_first(codes) * self.half_width).round() + self.half_width
        return self._bins_to_indices(bins).reshape(codes.shape[:-1])

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices (...) -> codes (..., len(levels)) in [-1, 1]."""
        bins = torch.div(indices.reshape(1, -1), self.basis, rounding_mode="floor") % self.levels
        codes = (bins.to(self.half_width.dtype) - self.half_width) / self.half_width
        return self._channels_last(codes, indices.shape)

    # -- public API ---------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> QuantizerOutput:
        """Training forward: x (..., dim) -> (quantized (..., dim), indices (...), no losses)."""
        x = self._check_input(x)
        lead = x.shape[:-1]
        rounded = self._round_ste(self._bound(self._channels_first(self.project_in(x).float())))
        indices = self._bins_to_indices(rounded.detach() + self.half_width).reshape(lead)
        codes = self._channels_last(rounded / self.half_width, lead)
        return QuantizerOutput(self.project_out(codes.to(x.dtype)), indices, {})

    @torch.no_grad()
    def encode(self, x: torch.Tensor | np.ndarray, *, threads: int | None = None) -> torch.Tensor:
        """Latents (..., dim) -> indices (...) int64, blocks of rows on ``threads`` CPU workers
        (default ``torch.get_num_threads()``; at most one per 2^18 rows, a short job stays on one)."""
        return self._encode_rows(self._check_input(x), self._encode_block, threads, rows_per_thread=ROWS_PER_THREAD)

    def _encode_block(self, rows: torch.Tensor) -> torch.Tensor:
        """Rows (n, dim) -> indices (n,): the compiled pass where built (rows next to a bin boundary
        re-run in torch, so the result is torch's exactly), else torch's bound-round-index ops."""
        z = self.project_in(rows).float()
        fsq_bins = self._native_for(z, "fsq_bins")
        if fsq_bins is None:
            return self._encode_torch(z)
        z = z.contiguous()
        n = z.shape[0]
        out = torch.empty(n, dtype=torch.long)
        flags = torch.empty(n, dtype=torch.uint8)
        levels = self.levels.reshape(-1).cpu().contiguous()
        basis = self.basis.reshape(-1).cpu().contiguous()
        thresholds = self._thresholds
        flagged = fsq_bins(z.data_ptr(), n, self.codebook_dim, z.stride(0), levels.data_ptr(), basis.data_ptr(),
                           thresholds.data_ptr(), thresholds.shape[1], out.data_ptr(), flags.data_ptr())
        if flagged:
            near = flags.nonzero().squeeze(1)
            out[near] = self._encode_torch(z[near])
        return out

    def _encode_torch(self, z: torch.Tensor) -> torch.Tensor:
        """Projected float32 latents (n, C) -> indices (n,) with torch ops (the definition)."""
        return self._bins_to_indices(self._bound(self._channels_first(z)).round_() + self.half_width)

    @torch.no_grad()
    def decode(self, indices: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Indices (...) -> quantized vectors (..., dim), as ``forward`` would produce them."""
        indices = self._check_indices(indices, self.basis.device)
        return self.project_out(self.indices_to_codes(indices))

    # -- channels-first helpers: (C, M) with M = number of vectors -------------------------------
    def _channels_first(self, z: torch.Tensor) -> torch.Tensor:
        return z.reshape(-1, self.codebook_dim).T.contiguous()

    def _channels_last(self, t: torch.Tensor, lead: torch.Size) -> torch.Tensor:
        return t.T.reshape(*lead, self.codebook_dim)

    def _bound(self, z_cf: torch.Tensor) -> torch.Tensor:
        """Squash (C, M) latents so channel i rounds to levels[i] bins."""
        return torch.tanh(z_cf + self.shift) * self.half_range - self.offset

    @staticmethod
    def _round_ste(bounded: torch.Tensor) -> torch.Tensor:
        return bounded + (bounded.round() - bounded).detach()

    def _bins_to_indices(self, bins_cf: torch.Tensor) -> torch.Tensor:
        """Whole-number bins (C, M) as floats -> mixed-radix indices (M,) int64, by one matvec;
        exact because every partial sum is an integer below 2**24 (float32) or 2**53 (float64)."""
        dtype = torch.float32 if self.codebook_size <= 1 << 24 else torch.float64
        return (self.basis.reshape(1, -1).to(dtype) @ bins_cf.to(dtype)).reshape(-1).long()
