"""Split residual VQ (Mimi, Défossez et al. 2024): one input quantized by two independent RVQs at once.

The first group (``semantic``: the levels distilled towards a semantic teacher) and the second
(``acoustic``) each project the same input to their own code width and quantize it on their own;
codes are the first group's levels followed by the second's, and the reconstruction is the sum of
the two groups' reconstructions. A prefix of k codes keeps the first group whole (when k reaches it)
and the first k - depth(first) levels of the second.
"""

from __future__ import annotations

import torch
from torch import nn

from tokkit.errors import InputError
from tokkit.quant.rvq import RVQ, RVQConfig


class SplitRVQ(nn.Module):
    """Two :class:`RVQ` groups on the same input. ``encode`` (..., dim) -> (..., k) int64, k <= depth;
    ``decode`` (..., k) -> (..., dim)."""

    def __init__(self, first: RVQConfig, second: RVQConfig) -> None:
        super().__init__()
        if first.dim != second.dim or first.codebook_size != second.codebook_size:
            raise InputError("the two groups of a split RVQ need the same input width and codebook size")
        self.semantic = RVQ(first)
        self.acoustic = RVQ(second)
        self.depth = first.depth + second.depth
        self.codebook_size = first.codebook_size
        self.dim = first.dim

    @torch.no_grad()
    def encode(self, x: torch.Tensor, depth: int | None = None, *, threads: int | None = None) -> torch.Tensor:
        """Latents (..., dim) -> codes (..., depth) (default all levels of both groups)."""
        depth = self.depth if depth is None else depth
        if not 1 <= depth <= self.depth:
            raise InputError(f"depth must be in 1..{self.depth}, got {depth}")
        first = self.semantic.depth
        codes = self.semantic.encode(x, min(depth, first), threads=threads)
        if depth > first:
            codes = torch.cat([codes, self.acoustic.encode(x, depth - first, threads=threads)], dim=-1)
        return codes

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (..., k) of the first k levels -> the sum of both groups' reconstructions (..., dim)."""
        if codes.ndim < 1 or not 1 <= codes.shape[-1] <= self.depth:
            raise InputError(f"split RVQ codes must have shape (..., k) with 1 <= k <= {self.depth}, "
                             f"got {tuple(codes.shape)}")
        first = self.semantic.depth
        out = self.semantic.decode(codes[..., :first])
        if codes.shape[-1] > first:
            out = out + self.acoustic.decode(codes[..., first:])
        return out
