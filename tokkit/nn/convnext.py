"""The 1-D ConvNeXt block (depthwise conv, LayerNorm, pointwise MLP, layer scale, residual), as in Vocos."""

from __future__ import annotations

import torch


class ConvNeXtBlock(torch.nn.Module):
    """(B, C, T) -> (B, C, T); "same" padding so sequence length is kept."""

    def __init__(self, channels: int, hidden: int, kernel: int = 7, layer_scale: float = 1e-2) -> None:
        super().__init__()
        self.depthwise = torch.nn.Conv1d(channels, channels, kernel, padding=kernel // 2, groups=channels)
        self.norm = torch.nn.LayerNorm(channels, eps=1e-6)
        self.expand = torch.nn.Linear(channels, hidden)
        self.act = torch.nn.GELU()
        self.project = torch.nn.Linear(hidden, channels)
        self.scale = torch.nn.Parameter(torch.full((channels,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> (B, C, T)."""
        y = self.depthwise(x).transpose(1, 2)
        y = self.project(self.act(self.expand(self.norm(y))))
        return x + (self.scale * y).transpose(1, 2)


class ConvNeXtStack(torch.nn.Module):
    """Input conv, ``depth`` ConvNeXt blocks and a final LayerNorm: (B, in, T) -> (B, T, width)."""

    def __init__(self, in_channels: int, width: int, depth: int, hidden: int, kernel: int = 7) -> None:
        super().__init__()
        self.stem = torch.nn.Conv1d(in_channels, width, kernel, padding=kernel // 2)
        self.stem_norm = torch.nn.LayerNorm(width, eps=1e-6)
        self.blocks = torch.nn.ModuleList(ConvNeXtBlock(width, hidden, kernel, 1.0 / depth) for _ in range(depth))
        self.norm = torch.nn.LayerNorm(width, eps=1e-6)
        self.kernel, self.depth = kernel, depth

    @property
    def reach(self) -> int:
        """Frames of context on each side that can influence one output frame."""
        return (self.kernel // 2) * (self.depth + 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, in, T) -> (B, T, width). ``mask`` (B, T) bool marks the real frames of a padded batch: the
        padding is zero (as for a sequence alone, whose convolutions see zeros past its end) and is kept
        zero before every convolution, so each item's real frames equal its result alone."""
        if mask is not None:
            keep = mask[:, None, :].to(x.dtype)
            x = x * keep
        x = self.stem_norm(self.stem(x).transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x * keep if mask is not None else x)
        return self.norm(x.transpose(1, 2))
