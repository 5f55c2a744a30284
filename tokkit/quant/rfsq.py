"""Residual FSQ: ``depth`` finite scalar quantizers in series, each coding what the previous left.

Every level is an :class:`~tokkit.quant.fsq.FSQ` with its own projections (latent width -> len(levels)
channels -> latent width), so level ``k`` learns the scale of the residual it sees. Indices come out as
(..., depth); decoding any prefix (..., k) gives the k-level reconstruction, which quantizer dropout
(the shared prefix-truncation op, as in :mod:`tokkit.quant.rvq`) trains for: one model, several bitrates.
Level 0 alone is a plain FSQ, so an FSQ model's quantizer weights load into it as its first level.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import torch
from torch import nn

from tokkit.core.config import JsonConfig
from tokkit.errors import InputError
from tokkit.quant.base import Quantizer
from tokkit.quant.fsq import FSQ, FSQConfig
from tokkit.quant.rvq import RVQ
from tokkit.quant.truncation import Distribution

if TYPE_CHECKING:
    import numpy as np


@dataclasses.dataclass
class ResidualFSQConfig(JsonConfig):
    """``depth`` levels, each an FSQ with bins ``levels`` on a ``dim``-wide latent; ``quantizer_dropout``:
    probability that a training batch keeps only a random prefix of levels per sample
    (``dropout_distribution`` "uniform" on 1..depth or "pow2")."""

    levels: list[int] = dataclasses.field(default_factory=lambda: [8, 8, 8, 5, 5, 5])
    depth: int = 4
    dim: int = 256
    quantizer_dropout: float = 0.0
    dropout_distribution: Distribution = "uniform"

    def __post_init__(self) -> None:
        FSQConfig(levels=self.levels)  # validates the levels
        self.levels = list(self.levels)
        if self.depth < 1:
            raise InputError(f"residual FSQ depth must be >= 1, got {self.depth}")
        if not 0.0 <= self.quantizer_dropout <= 1.0:
            raise InputError(f"residual FSQ quantizer_dropout must be a probability, got {self.quantizer_dropout}")
        if self.dropout_distribution not in ("uniform", "pow2"):
            raise InputError(f"dropout_distribution must be 'uniform' or 'pow2', got {self.dropout_distribution!r}")


class ResidualFSQ(RVQ):
    """Residual FSQ. ``encode`` (..., dim) -> (..., depth) int64 (or a prefix); ``decode`` (..., k<=depth)
    -> (..., dim); ``forward`` is RVQ's residual loop with quantizer dropout (its "commitment" loss is 0:
    FSQ levels have none)."""

    def __init__(self, config: ResidualFSQConfig) -> None:  # RVQ's fields and loop, FSQ levels
        Quantizer.__init__(self)
        self.config = config
        self.depth = config.depth
        self.codebook_size = math.prod(config.levels)
        self._set_widths(config.dim, config.dim)  # identities: each level projects on its own, so level k
        # learns the scale of the residual it sees (fixed bins on a shrinking residual would resolve nothing)
        self.levels = nn.ModuleList(FSQ(FSQConfig(levels=config.levels, dim=config.dim)) for _ in range(config.depth))

    @torch.no_grad()
    def encode(self, x: torch.Tensor | np.ndarray, depth: int | None = None, *,
               threads: int | None = None) -> torch.Tensor:
        """Latents (..., dim) -> indices (..., depth) int64; ``depth`` < config.depth encodes a prefix."""
        x = self._check_input(x)
        depth = self._check_depth(depth)
        residual, indices = x, []
        for fsq in self.levels[:depth]:
            level_indices = fsq.encode(residual, threads=threads)
            residual = residual - fsq.decode(level_indices)
            indices.append(level_indices)
        return torch.stack(indices, -1)

    @torch.no_grad()
    def decode(self, indices: torch.Tensor | np.ndarray, *, missing_ok: bool = False) -> torch.Tensor:
        """Indices (..., k) of the first k <= depth levels -> reconstruction (..., dim); ``missing_ok`` is
        accepted for RVQ's signature (FSQ levels have no "missing" code)."""
        indices = self._check_indices(indices, self.levels[0].basis.device)
        if indices.ndim < 1 or not 1 <= indices.shape[-1] <= self.depth:
            raise InputError(f"residual FSQ indices must have shape (..., k) with 1 <= k <= {self.depth}, "
                             f"got {tuple(indices.shape)}")
        return sum(fsq.decode(indices[..., level]) for level, fsq in enumerate(self.levels[:indices.shape[-1]]))

    @torch.no_grad()
    def calibrate_levels(self, x: torch.Tensor, start: int = 1, *, spread: float = 0.7,
                         ridge: float = 1e-3) -> list[float]:
        """Data-dependent start for levels ``start..depth-1`` from latents x (N, dim); returns the mean squared
        latent error after each prefix of levels (depth values).

        Level k's ``project_in`` maps the residual's top principal directions to its channels with standard
        deviation ``spread`` (so the codes use the bins) and its ``project_out`` is the ridge least-squares map
        from the codes back to the residual. A fresh level with a zero ``project_out`` gives its ``project_in``
        no gradient and codes that barely vary, so it would otherwise learn slowly or not at all.
        """
        x = self._check_input(x).reshape(-1, self.levels[0].project_in.in_features).float()
        residual, errors = x, []
        for level, fsq in enumerate(self.levels):
            if level >= start:
                self._fit_level(fsq, residual, spread, ridge)
            residual = residual - fsq.decode(fsq.encode(residual))
            errors.append(float(residual.pow(2).mean()))
        return errors

    @staticmethod
    def _fit_level(fsq: FSQ, residual: torch.Tensor, spread: float, ridge: float) -> None:
        """Set one level's projections from the residual (N, dim) it codes (see :meth:`calibrate_levels`)."""
        channels = fsq.codebook_dim
        mean = residual.mean(0)
        centred = residual - mean
        _, singular, directions = torch.linalg.svd(centred, full_matrices=False)  # directions (k, dim)
        std = (singular[:channels] / max(1, residual.shape[0] - 1) ** 0.5).clamp_min(1e-8)
        weight_in = directions[:channels] * (spread / std)[:, None]
        fsq.project_in.weight.copy_(weight_in)
        fsq.project_in.bias.copy_(-weight_in @ mean - fsq.shift.reshape(-1))  # centred on the middle bin
        codes = fsq.indices_to_codes(fsq.encode(residual))  # (N, channels) in [-1, 1]
        design = torch.cat([codes, torch.ones(codes.shape[0], 1)], 1)
        gram = design.T @ design + ridge * residual.shape[0] * torch.eye(channels + 1)
        solution = torch.linalg.solve(gram, design.T @ residual)  # (channels + 1, dim)
        fsq.project_out.weight.copy_(solution[:channels].T)
        fsq.project_out.bias.copy_(solution[channels])
