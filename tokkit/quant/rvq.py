"""Residual vector quantization (Zeghidour et al. 2021): each level quantizes what the previous left.

Indices come out as (..., depth); decoding any prefix (..., k) of them gives the k-level
reconstruction, which is what quantizer dropout trains for: per sample, only the first k levels
count, k drawn by the shared prefix-truncation op on the depth axis.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import torch
from torch import nn

from tokkit.core.config import JsonConfig
from tokkit.errors import InputError
from tokkit.quant.base import Quantizer
from tokkit.quant.gradients import GradientEstimator
from tokkit.quant.nearest import Metric, Scratch, default_chunk, inline_search, task_rows
from tokkit.quant.output import QuantizerOutput
from tokkit.quant.truncation import Distribution, prefix_mask, sample_keep_lengths
from tokkit.quant.vq import VQ, VQConfig
from tokkit.quant.workers import resolve_threads

if TYPE_CHECKING:
    import numpy as np


@dataclasses.dataclass
class RVQConfig(JsonConfig):
    """``depth`` levels of ``codebook_size`` codes each, width ``codebook_dim`` (default ``dim``; one
    shared projection when it differs). ``quantizer_dropout``: probability that a training batch
    keeps only a random prefix of levels per sample, drawn per ``dropout_distribution``. The
    remaining fields configure every level's :class:`VQ`."""

    depth: int = 8
    codebook_size: int = 1024
    dim: int = 128
    codebook_dim: int | None = None
    quantizer_dropout: float = 0.0
    dropout_distribution: Distribution = "uniform"
    metric: Metric = "l2"
    decay: float = 0.99
    commitment_weight: float = 0.25
    kmeans_init: bool = True
    kmeans_iters: int = 10
    dead_code_threshold: float = 1.0
    gradient: GradientEstimator = "ste"
    #: factorized codes (DAC, SNAC): each level projects the residual to this width, searches there and
    #: projects its code back (its own ``project_in`` / ``project_out``); None: levels search at full width
    level_codebook_dim: int | None = None
    #: False: the shared ``project_in`` / ``project_out`` (when ``codebook_dim`` differs from ``dim``) have no bias
    projection_bias: bool = True

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise InputError(f"RVQ depth must be >= 1, got {self.depth}")
        if not 0.0 <= self.quantizer_dropout <= 1.0:
            raise InputError(f"RVQ quantizer_dropout must be a probability, got {self.quantizer_dropout}")
        if self.dropout_distribution not in ("uniform", "pow2"):
            raise InputError(f"RVQ dropout_distribution must be 'uniform' or 'pow2', got {self.dropout_distribution!r}")
        self.level_config()  # validates the shared VQ fields

    def level_config(self) -> VQConfig:
        """The config of each level: at the codebook width, projection-free unless ``level_codebook_dim``."""
        width = self.codebook_dim or self.dim
        return VQConfig(
            codebook_size=self.codebook_size, dim=width, codebook_dim=self.level_codebook_dim,
            metric=self.metric, decay=self.decay,
            commitment_weight=self.commitment_weight, kmeans_init=self.kmeans_init,
            kmeans_iters=self.kmeans_iters, dead_code_threshold=self.dead_code_threshold,
            gradient=self.gradient,
        )


class RVQ(Quantizer):
    """Residual VQ. ``encode`` (..., dim) -> (..., depth) int64; ``decode`` (..., k<=depth) ->
    (..., dim); ``forward`` -> :class:`QuantizerOutput` with losses {"commitment"} summed over levels."""

    def __init__(self, config: RVQConfig) -> None:
        super().__init__()
        self.config = config
        self.depth = config.depth
        self.codebook_size = config.codebook_size
        self._set_widths(config.dim, config.codebook_dim or config.dim, bias=config.projection_bias)
        self.levels = nn.ModuleList(VQ(config.level_config()) for _ in range(config.depth))
        self._scratch = Scratch()  # search buffers, one set per worker thread shared by all levels

    def forward(self, x: torch.Tensor) -> QuantizerOutput:
        """x (batch, ..., dim) -> (quantized (batch, ..., dim), indices (batch, ..., depth), losses).

        With quantizer dropout, levels past a sample's kept prefix add nothing and report index -1;
        each level's commitment loss is weighted by the fraction of samples that keep it.
        """
        x = self._check_input(x)
        residual = self.project_in(x)
        keep = self._keep_mask(x)  # (batch, depth) bool, or None
        quantized = torch.zeros_like(residual)
        indices, commitment = [], residual.new_zeros(())
        for level, vq in enumerate(self.levels):
            out = vq(residual)
            weight = self._broadcast(keep[:, level], residual) if keep is not None else 1.0
            quantized = quantized + out.quantized * weight
            residual = residual - out.quantized.detach()
            level_indices = out.indices
            if keep is not None:
                level_indices = torch.where(keep[:, level].reshape(-1, *[1] * (level_indices.ndim - 1)),
                                            level_indices, -1)
                commitment = commitment + (out.losses.get("commitment", 0.0) * keep[:, level].float().mean())
            else:  # levels without a commitment term (FSQ, in ResidualFSQ) add nothing
                commitment = commitment + out.losses.get("commitment", 0.0)
            indices.append(level_indices)
        return QuantizerOutput(self.project_out(quantized), torch.stack(indices, -1), {"commitment": commitment})

    @torch.no_grad()
    def encode(
        self, x: torch.Tensor | np.ndarray, depth: int | None = None, *, threads: int | None = None
    ) -> torch.Tensor:
        """Latents (..., dim) -> indices (..., depth) int64; ``depth`` < config.depth encodes a prefix.
        ``threads``: CPU worker threads for every level's search (default ``torch.get_num_threads()``)."""
        x = self._check_input(x)
        depth = self._check_depth(depth)
        threads = resolve_threads(threads)
        residual = self.project_in(x)
        levels = list(self.levels[:depth])
        for vq in levels:
            vq._check_initialized()
        rows = residual.numel() // residual.shape[-1]
        first = levels[0].codebook
        wide = residual.dtype == torch.float64 or any(vq.codebook.dtype == torch.float64 for vq in levels)
        searches = [vq.prepared_search(torch.float64 if wide else torch.float32, self._scratch) for vq in levels]

        def all_levels(block_rows: torch.Tensor) -> torch.Tensor:
            """(n, width) -> (n, depth): every level's search and residual update on one block of rows."""
            out = torch.empty(block_rows.shape[0], depth, dtype=torch.long, device=block_rows.device)
            remainder = block_rows
            for level, (vq, search) in enumerate(zip(levels, searches)):
                level_indices = search.indices(vq.project_in(remainder))
                out[:, level] = level_indices
                remainder = remainder - vq.project_out(vq.codebook[level_indices])
            return out

        # one task per block of rows runs all levels: one hand-off to the workers per encode, not one per level;
        # with one thread, one task of up to 16 MiB of scores per level, run in the caller (no hand-off)
        if threads == 1:
            block = default_chunk(first.shape[0])
            return self._encode_rows(residual, all_levels, 1, block=block, trailing=(depth,),
                                     inline=rows <= block or inline_search(rows * depth, first))
        return self._encode_rows(residual, all_levels, threads, block=task_rows(rows, first.shape[0], threads),
                                 trailing=(depth,), inline=inline_search(rows * depth, first))

    @torch.no_grad()
    def decode(self, indices: torch.Tensor | np.ndarray, *, missing_ok: bool = False) -> torch.Tensor:
        """Indices (..., k) for the first k <= depth levels -> reconstruction (..., dim).

        With ``missing_ok``, an index of -1 (as ``forward`` reports for levels past a kept prefix) adds
        nothing, so vectors quantized to different depths decode in one call.
        """
        device = self.levels[0].codebook.device
        present = None
        if missing_ok:
            raw = torch.as_tensor(indices)
            present = (raw >= 0).to(device)
            indices = torch.where(raw >= 0, raw, 0)
        indices = self._check_indices(indices, device)
        if indices.ndim < 1 or not 1 <= indices.shape[-1] <= self.depth:
            raise InputError(f"RVQ indices must have shape (..., k) with 1 <= k <= {self.depth}, got {tuple(indices.shape)}")
        total = 0
        for level, vq in enumerate(self.levels[: indices.shape[-1]]):
            code = vq.project_out(vq.codebook[indices[..., level]])
            if present is not None:
                code = code * present[..., level, None].to(code.dtype)
            total = total + code
        return self.project_out(total)

    def _keep_mask(self, x: torch.Tensor) -> torch.Tensor | None:
        """Per-sample kept-level mask for this batch, or None when dropout does not apply."""
        p = self.config.quantizer_dropout
        if not self.training or p <= 0 or float(torch.rand(())) >= p:
            return None
        if x.ndim < 2:
            raise InputError(f"quantizer dropout needs a batch axis: x must be (batch, ..., dim), got {tuple(x.shape)}")
        lengths = sample_keep_lengths(
            self.depth, x.shape[0], distribution=self.config.dropout_distribution, device=x.device
        )
        return prefix_mask(lengths, self.depth)

    @staticmethod
    def _broadcast(per_sample: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return per_sample.reshape(-1, *[1] * (like.ndim - 1)).to(like.dtype)

    def _check_depth(self, depth: int | None) -> int:
        if depth is None:
            return self.depth
        if not 1 <= depth <= self.depth:
            raise InputError(f"depth must be in 1..{self.depth}, got {depth}")
        return depth

