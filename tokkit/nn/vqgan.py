"""The convolutional VQGAN pixel decoder (Esser et al. 2021) in MaskGIT's variant (Chang et al. 2022):
no attention layers, GroupNorm(32) + SiLU ResNet blocks, nearest-neighbour 2x upsampling.

Used by the TiTok / One-D-Piece ports, whose released tokenizers end in MaskGIT's VQGAN decoder.
Parameter names follow that decoder's published state dict (``conv_in``, ``mid.i``, ``up.i.block.j``,
``up.i.upsample_conv``, ``norm_out``, ``conv_out``) so checkpoints load by name. One behaviour of the
published network is kept on purpose: a block that changes its width adds a 1x1 projection of its own
output (not of its input) as the residual.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from tokkit.core.config import JsonConfig
from tokkit.errors import InputError
from tokkit.nn.layout import Conv2d


@dataclasses.dataclass
class VQGANDecoderConfig(JsonConfig):
    """``z_channels`` in, ``out_channels`` out; level i has ``hidden_channels * channel_mult[i]`` channels
    and ``num_res_blocks`` blocks; every level but the first doubles the resolution."""

    z_channels: int = 256
    hidden_channels: int = 128
    channel_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    num_res_blocks: int = 2
    out_channels: int = 3
    groups: int = 32

    def __post_init__(self) -> None:
        self.channel_mult = tuple(int(m) for m in self.channel_mult)
        if not self.channel_mult or self.num_res_blocks < 1 or self.z_channels < 1:
            raise InputError(f"a VQGAN decoder needs levels, blocks and channels, got {self}")
        if any((self.hidden_channels * m) % self.groups for m in self.channel_mult):
            raise InputError(f"every level width must be a multiple of {self.groups} (GroupNorm groups), got {self}")

    @property
    def upsampling(self) -> int:
        """Output pixels per input position along each side."""
        return 2 ** (len(self.channel_mult) - 1)


def _conv(cin: int, cout: int, kernel: int, bias: bool = True) -> nn.Conv2d:
    """A stride-1 convolution with "same" padding (odd kernels; 3x3 ones run as Winograd on large maps)."""
    return Conv2d(cin, cout, kernel, padding=kernel // 2, bias=bias)


class ResBlock(nn.Module):
    """norm-SiLU-conv twice plus a residual: (B, cin, H, W) -> (B, cout, H, W)."""

    def __init__(self, cin: int, cout: int, groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-6)
        self.conv1 = _conv(cin, cout, 3, bias=False)
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-6)
        self.conv2 = _conv(cout, cout, 3, bias=False)
        self.nin_shortcut = _conv(cout, cout, 1, bias=False) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, cin, H, W) -> (B, cout, H, W)."""
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return h + (self.nin_shortcut(h) if self.nin_shortcut is not None else x)


class UpLevel(nn.Module):
    """The blocks of one resolution, then (except at level 0) 2x nearest upsampling and a 3x3 conv."""

    def __init__(self, cin: int, cout: int, blocks: int, groups: int, upsample: bool) -> None:
        super().__init__()
        self.block = nn.ModuleList(ResBlock(cin if i == 0 else cout, cout, groups) for i in range(blocks))
        self.upsample_conv = _conv(cout, cout, 3) if upsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, cin, H, W) -> (B, cout, 2H, 2W) (or (B, cout, H, W) at level 0)."""
        for block in self.block:
            x = block(x)
        if self.upsample_conv is not None:
            x = self.upsample_conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return x


class VQGANDecoder(nn.Module):
    """Latents (B, z_channels, h, w) -> pixels (B, out_channels, h * 2**(L-1), w * 2**(L-1))."""

    def __init__(self, config: VQGANDecoderConfig) -> None:
        super().__init__()
        self.config = config
        widths = [config.hidden_channels * m for m in config.channel_mult]
        self.conv_in = _conv(config.z_channels, widths[-1], 3)
        self.mid = nn.ModuleList(ResBlock(widths[-1], widths[-1], config.groups) for _ in range(config.num_res_blocks))
        # up[i] runs at level i; it is entered from level i + 1 (the deepest level from the middle)
        self.up = nn.ModuleList(UpLevel(widths[min(i + 1, len(widths) - 1)], widths[i], config.num_res_blocks,
                                        config.groups, upsample=i > 0) for i in range(len(widths)))
        self.norm_out = nn.GroupNorm(config.groups, widths[0], eps=1e-6)
        self.conv_out = _conv(widths[0], config.out_channels, 3)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, z_channels, h, w) -> pixels (B, out_channels, h * upsampling, w * upsampling)."""
        x = self.conv_in(z)
        for block in self.mid:
            x = block(x)
        for level in reversed(self.up):
            x = level(x)
        return self.conv_out(F.silu(self.norm_out(x)))
