"""The 1-D ConvNeXt block (depthwise conv, LayerNorm, pointwise MLP, layer scale, residual), as in Vocos,
optionally with adaptive LayerNorm: one learned scale and shift per condition (Vocos's bandwidth id)."""

from __future__ import annotations

import torch

from tokkit.nn.layout import Conv1d


class AdaLayerNorm(torch.nn.Module):
    """LayerNorm without affine weights, then ``scale[c] * x + shift[c]`` for condition ``c``: (B, T, C) -> (B, T, C)."""

    def __init__(self, conditions: int, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.channels, self.eps = channels, eps
        self.scale = torch.nn.Embedding(conditions, channels)
        self.shift = torch.nn.Embedding(conditions, channels)
        torch.nn.init.ones_(self.scale.weight)
        torch.nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """x (B, T, C), condition (B,) or () int64 -> (B, T, C)."""
        normed = torch.nn.functional.layer_norm(x, (self.channels,), eps=self.eps)
        return normed * self.scale(condition) + self.shift(condition)


def _norm(channels: int, conditions: int | None) -> torch.nn.Module:
    return AdaLayerNorm(conditions, channels) if conditions else torch.nn.LayerNorm(channels, eps=1e-6)


def _apply_norm(norm: torch.nn.Module, x: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
    return norm(x, condition) if isinstance(norm, AdaLayerNorm) else norm(x)


class ConvNeXtBlock(torch.nn.Module):
    """(B, C, T) -> (B, C, T); "same" padding so sequence length is kept. With ``conditions`` the norm is
    an :class:`AdaLayerNorm` and ``forward`` needs ``condition``."""

    def __init__(self, channels: int, hidden: int, kernel: int = 7, layer_scale: float = 1e-2,
                 conditions: int | None = None) -> None:
        super().__init__()
        self.depthwise = Conv1d(channels, channels, kernel, padding=kernel // 2, groups=channels)  # see tokkit.nn.layout
        self.norm = _norm(channels, conditions)
        self.expand = torch.nn.Linear(channels, hidden)
        self.act = torch.nn.GELU()
        self.project = torch.nn.Linear(hidden, channels)
        self.scale = torch.nn.Parameter(torch.full((channels,), layer_scale))

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C, T) -> (B, C, T)."""
        y = self.depthwise(x).transpose(1, 2)
        y = self.project(self.act(self.expand(_apply_norm(self.norm, y, condition))))
        return x + (self.scale * y).transpose(1, 2)


class ConvNeXtStack(torch.nn.Module):
    """Input conv, an optional ``prenet`` (e.g. :class:`tokkit.nn.posnet.PosNet`), ``depth`` ConvNeXt blocks
    and a final LayerNorm: (B, in, T) -> (B, T, width)."""

    def __init__(self, in_channels: int, width: int, depth: int, hidden: int, kernel: int = 7,
                 conditions: int | None = None, prenet: torch.nn.Module | None = None) -> None:
        super().__init__()
        self.stem = torch.nn.Conv1d(in_channels, width, kernel, padding=kernel // 2)
        if prenet is not None:  # (B, width, T) -> (B, width, T) between the stem and its norm (WavTokenizer)
            self.prenet = prenet
        self.stem_norm = _norm(width, conditions)
        self.blocks = torch.nn.ModuleList(ConvNeXtBlock(width, hidden, kernel, 1.0 / depth, conditions)
                                          for _ in range(depth))
        self.norm = torch.nn.LayerNorm(width, eps=1e-6)
        self.kernel, self.depth = kernel, depth

    @property
    def reach(self) -> int:
        """Frames of context on each side that can influence one output frame."""
        return (self.kernel // 2) * (self.depth + 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                condition: torch.Tensor | None = None) -> torch.Tensor:
        """(B, in, T) -> (B, T, width). ``mask`` (B, T) bool marks the real frames of a padded batch: the
        padding is zero (as for a sequence alone, whose convolutions see zeros past its end) and is kept
        zero before every convolution, so each item's real frames equal its result alone. ``condition``
        (B,) selects the AdaLayerNorm rows when the stack was built with ``conditions``."""
        if mask is not None:
            keep = mask[:, None, :].to(x.dtype)
            x = x * keep
        x = self.stem(x)
        prenet = getattr(self, "prenet", None)
        if prenet is not None:
            if mask is not None:
                raise ValueError("a ConvNeXtStack with a prenet (global attention) cannot run masked batches")
            x = prenet(x)
        x = _apply_norm(self.stem_norm, x.transpose(1, 2), condition).transpose(1, 2)
        for block in self.blocks:
            x = block(x * keep if mask is not None else x, condition)
        return self.norm(x.transpose(1, 2))
