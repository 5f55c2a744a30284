"""WavTokenizer's "pos_net": GroupNorm residual conv blocks around one single-head self-attention block,
placed after a Vocos backbone's input conv. The attention is :class:`tokkit.nn.transformer.Attention`
(one head); GroupNorm + SiLU + conv(3) residual blocks as in the VQGAN/LDM encoders it comes from."""

from __future__ import annotations

import torch
from torch import nn

from tokkit.nn.transformer import Attention


class GroupNormResBlock(nn.Module):
    """x + conv(silu(gn(conv(silu(gn(x)))))) with kernel-3 "same" convs: (B, C, T) -> (B, C, T)."""

    def __init__(self, channels: int, groups: int = 32, eps: float = 1e-6) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, channels, eps=eps)
        self.conv1 = nn.Conv1d(channels, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, channels, eps=eps)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> (B, C, T)."""
        h = self.conv1(nn.functional.silu(self.norm1(x)))
        return x + self.conv2(nn.functional.silu(self.norm2(h)))


class GroupNormAttention(nn.Module):
    """x + attention(gn(x)) over time with one head: (B, C, T) -> (B, C, T)."""

    def __init__(self, channels: int, groups: int = 32, eps: float = 1e-6) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=eps)
        self.attention = Attention(channels, heads=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> (B, C, T)."""
        return x + self.attention(self.norm(x).transpose(1, 2)).transpose(1, 2)


class PosNet(nn.Sequential):
    """Two residual blocks, attention, two residual blocks, a GroupNorm: (B, C, T) -> (B, C, T)."""

    def __init__(self, channels: int, groups: int = 32) -> None:
        super().__init__(GroupNormResBlock(channels, groups), GroupNormResBlock(channels, groups),
                         GroupNormAttention(channels, groups), GroupNormResBlock(channels, groups),
                         GroupNormResBlock(channels, groups), nn.GroupNorm(groups, channels, eps=1e-6))
