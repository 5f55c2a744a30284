"""Snake-activation convolutional encoder/decoder (DAC, Kumar et al. 2023; SNAC, Siuzdak et al. 2024).

Non-causal stacks of "same"-padded convolutions: residual units (Snake, dilated conv k=7, Snake, 1x1 conv)
at dilations 1, 3, 9, strided convs of kernel 2s down and transposed convs of kernel 2s up. SNAC adds
depthwise convs, optional local windowed attention with rotary positions, and noise injection in the
decoder. Weight norm is folded into plain weights at load time (:func:`tokkit.nn.weights.fold_weight_norm_state`).
Module indices follow the authors' ``nn.Sequential`` layout, so their state dicts map key for key.
:meth:`SnakeEncoder.context` / :meth:`SnakeDecoder.context` bound the receptive field, which lets long
inputs run in overlapping windows (:func:`tokkit.nn.windows.overlapped`) with the whole-input result.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from tokkit.core.config import JsonConfig
from tokkit.errors import InputError
from tokkit.nn.layout import Conv1d, ConvTranspose1d, is_nwc
from tokkit.nn.split import run_split

try:  # the fused Snake kernel (setup.py builds it; torch ops when it is absent)
    from tokkit.nn import _snake
except ImportError:  # pragma: no cover - a build without a C compiler
    _snake = None

Style = Literal["dac", "snac"]


@dataclasses.dataclass
class SnakeNetConfig(JsonConfig):
    """Widths and rates of a DAC-style codec. ``style`` "snac" uses SNAC's encoder tail (no final Snake, a
    k=7 conv keeping the width) and odd-stride output padding; ``depthwise``, ``attn_window_size`` and
    ``noise`` are SNAC's options (DAC: False, None, False)."""

    encoder_dim: int = 64
    encoder_rates: tuple[int, ...] = (2, 4, 8, 8)
    latent_dim: int | None = None
    decoder_dim: int = 1536
    decoder_rates: tuple[int, ...] = (8, 8, 4, 2)
    style: Style = "dac"
    depthwise: bool = False
    attn_window_size: int | None = None
    noise: bool = False

    def __post_init__(self) -> None:
        self.encoder_rates = tuple(int(r) for r in self.encoder_rates)
        self.decoder_rates = tuple(int(r) for r in self.decoder_rates)
        if self.latent_dim is None:
            self.latent_dim = self.encoder_dim * 2 ** len(self.encoder_rates)
        if self.style not in ("dac", "snac"):
            raise InputError(f"SnakeNet style must be 'dac' or 'snac', got {self.style!r}")
        if (self.encoder_dim < 1 or self.decoder_dim < 2 ** len(self.decoder_rates) or not self.encoder_rates
                or min(self.encoder_rates + self.decoder_rates) < 1):
            raise InputError(f"SnakeNet config has impossible widths or rates: {self}")
        if self.attn_window_size is not None and self.attn_window_size < 1:
            raise InputError(f"attn_window_size must be >= 1 or None, got {self.attn_window_size}")

    @property
    def hop(self) -> int:
        """Audio samples per latent frame."""
        return math.prod(self.encoder_rates)


class Snake1d(nn.Module):
    """Snake activation ``x + sin(alpha x)^2 / (alpha + 1e-9)`` with a learned ``alpha`` per channel: (B, C, T) -> (B, C, T)."""

    def __init__(self, channels: int, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))
        #: may overwrite its input (set where the input is a fresh tensor nothing else reads; no-grad only)
        self.inplace = inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> (B, C, T)."""
        alpha = self.alpha
        if _snake is not None and _fusable(x, alpha):
            return fused_snake(x, alpha, inplace=self.inplace)
        wave = alpha * x
        if torch.is_inference_mode_enabled():  # no autograd: reuse one buffer (fewer allocations, same values)
            return torch.addcmul(x, (alpha + 1e-9).reciprocal(), wave.sin_().square_(), out=wave)
        return torch.addcmul(x, (alpha + 1e-9).reciprocal(), torch.sin(wave).square())


def _fusable(x: torch.Tensor, alpha: torch.Tensor) -> bool:
    return (x.device.type == "cpu" and x.dtype == alpha.dtype == torch.float32 and x.dim() == 3 and x.numel() > 0
            and not (torch.is_grad_enabled() and (x.requires_grad or alpha.requires_grad))
            and (x.is_contiguous() or is_nwc(x)))


def fused_snake(x: torch.Tensor, alpha: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """Snake in one pass of the compiled kernel (tokkit.nn._snake): float32 (B, C, T) rows or channels-last
    -> (B, C, T) in the same layout (``x`` itself, overwritten, when ``inplace``); the work is split over
    torch's thread count (the kernel releases the GIL)."""
    b, c, t = x.shape
    alpha = alpha.detach().reshape(c).contiguous()
    inv = (alpha + 1e-9).reciprocal()
    out = x if inplace else torch.empty_like(x)
    last = bool(is_nwc(x) and not x.is_contiguous())
    count, inner = (b * t, c) if last else (b * c, t)
    args = (x.data_ptr(), out.data_ptr(), alpha.data_ptr(), inv.data_ptr())
    run_split(lambda start, stop: _snake.snake(*args, start, stop, c, inner, last), count, x.numel())
    return out


def conv(in_channels: int, out_channels: int, kernel: int, *, stride: int = 1, dilation: int = 1, groups: int = 1,
         bias: bool = True) -> Conv1d:
    """A "same"-padded Conv1d as the authors build it (padding ``(k-1)*d // 2``, or ``ceil(s/2)`` when strided)."""
    padding = math.ceil(stride / 2) if stride > 1 else (kernel - 1) * dilation // 2
    return Conv1d(in_channels, out_channels, kernel, stride, padding, dilation, groups, bias)


class ResidualUnit(nn.Module):
    """Snake -> dilated conv (k=7) -> Snake -> 1x1 conv, plus the input: (B, C, T) -> (B, C, T)."""

    def __init__(self, dim: int, dilation: int, groups: int = 1) -> None:
        super().__init__()
        self.block = nn.Sequential(Snake1d(dim), conv(dim, dim, 7, dilation=dilation, groups=groups),
                                   Snake1d(dim, inplace=True), conv(dim, dim, 1))  # the second reads a conv's output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> (B, C, T)."""
        y = self.block(x)
        trim = (x.shape[-1] - y.shape[-1]) // 2
        skip = x[..., trim:x.shape[-1] - trim] if trim > 0 else x
        if not torch.is_grad_enabled() and y.shape == skip.shape and y.dtype == skip.dtype:
            return y.add_(skip)  # the block's fresh output; float addition commutes: the same values as skip + y
        return skip + y


def _units(dim: int, groups: int) -> list[nn.Module]:
    return [ResidualUnit(dim, d, groups) for d in (1, 3, 9)]


class EncoderBlock(nn.Module):
    """Three residual units at width ``dim // 2``, Snake, strided conv: (B, dim/2, T) -> (B, dim, T / stride)."""

    def __init__(self, dim: int, stride: int, groups: int = 1) -> None:
        super().__init__()
        self.block = nn.Sequential(*_units(dim // 2, groups), Snake1d(dim // 2, inplace=True),
                                   conv(dim // 2, dim, 2 * stride, stride=stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, dim/2, T) -> (B, dim, T / stride)."""
        return self.block(x)


class NoiseBlock(nn.Module):
    """SNAC's noise injection: ``x + n * W x`` with one Gaussian ``n`` per time step: (B, C, T) -> (B, C, T).

    The noise comes from ``generator`` (set by the decoder for each call), so decoding is reproducible."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear = conv(dim, dim, 1, bias=False)
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> (B, C, T)."""
        # drawn in float32 whatever the dtype, so a float64 copy of the decoder sees the same noise
        noise = torch.randn((x.shape[0], 1, x.shape[-1]), generator=self.generator, dtype=torch.float32, device=x.device)
        scaled = self.linear(x)
        if torch.is_grad_enabled():
            return x + noise.to(x.dtype) * scaled
        return scaled.mul_(noise.to(x.dtype)).add_(x)  # in the fresh product; the same values as x + noise * W x


class DecoderBlock(nn.Module):
    """Snake, transposed conv (kernel 2s), [noise], three residual units: (B, C_in, T) -> (B, C_out, ~T * stride).
    Without autograd its float32 CPU input is overwritten (the decoder passes it fresh tensors)."""

    def __init__(self, in_dim: int, out_dim: int, stride: int, *, style: Style, noise: bool, groups: int = 1) -> None:
        super().__init__()
        up = ConvTranspose1d(in_dim, out_dim, 2 * stride, stride, padding=math.ceil(stride / 2),
                                output_padding=stride % 2 if style == "snac" else 0)
        layers: list[nn.Module] = [Snake1d(in_dim, inplace=True), up]  # its input: the previous layer's output
        if noise:
            layers.append(NoiseBlock(out_dim))
        self.block = nn.Sequential(*layers, *_units(out_dim, groups))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, T) -> (B, C_out, ~T * stride)."""
        return self.block(x)


class LocalAttention(nn.Module):
    """Pre-norm multi-head attention inside non-overlapping windows of ``window`` frames, rotary positions
    within each window (SNAC's LocalMHA), plus the input: (B, C, T) -> (B, C, T); T must be a multiple of ``window``."""

    def __init__(self, dim: int, window: int, head_dim: int = 64) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.heads, self.head_dim, self.window = dim // head_dim, head_dim, window
        self.to_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim, bias=False)
        inv_freq = 1.0 / (10000 ** (torch.arange(0, head_dim, 2).float() / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> (B, C, T)."""
        b, c, t = x.shape
        if t % self.window:
            raise InputError(f"local attention needs a multiple of {self.window} frames, got {t}")
        h = self.to_qkv(self.norm(x.transpose(1, 2)))
        q, k, v = (part.reshape(b, t // self.window, self.window, self.heads, self.head_dim).permute(0, 3, 1, 2, 4)
                   for part in h.chunk(3, dim=-1))
        freqs = torch.arange(self.window, dtype=self.inv_freq.dtype, device=x.device)[:, None] * self.inv_freq
        freqs = torch.cat((freqs, freqs), dim=-1)
        cos, sin = freqs.cos(), freqs.sin()
        q, k = (q * cos + _rotate_half(q) * sin), (k * cos + _rotate_half(k) * sin)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, windows, window, head_dim)
        out = self.to_out(out.permute(0, 2, 3, 1, 4).reshape(b, t, c))
        return out.transpose(1, 2) + x


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


class SnakeEncoder(nn.Module):
    """Audio (B, 1, N) -> latents (B, latent_dim, N / hop); N a multiple of ``hop`` (and of the attention grid)."""

    def __init__(self, config: SnakeNetConfig) -> None:
        super().__init__()
        self.config = config
        width = config.encoder_dim
        layers: list[nn.Module] = [conv(1, width, 7)]
        for stride in config.encoder_rates:
            width *= 2
            layers.append(EncoderBlock(width, stride, groups=width // 2 if config.depthwise else 1))
        if config.style == "dac":
            layers += [Snake1d(width, inplace=True), conv(width, config.latent_dim, 3)]
        else:
            if config.latent_dim != width:
                raise InputError(f"SNAC's latent width is its last encoder width {width}, not {config.latent_dim}")
            if config.attn_window_size:
                layers.append(LocalAttention(width, config.attn_window_size))
            layers.append(conv(width, width, 7, groups=width if config.depthwise else 1))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, N) -> (B, latent_dim, N / hop)."""
        return self.block(x)

    def context(self) -> int:
        """Input samples on each side beyond which no output frame can see (a bound on the receptive field)."""
        return math.ceil(_reach(self.block, 1.0))


class SnakeDecoder(nn.Module):
    """Latents (B, latent_dim, T) -> audio (B, 1, ~T * hop) in [-1, 1]."""

    def __init__(self, config: SnakeNetConfig) -> None:
        super().__init__()
        self.config = config
        width, latent = config.decoder_dim, config.latent_dim
        if config.depthwise:
            layers: list[nn.Module] = [conv(latent, latent, 7, groups=latent), conv(latent, width, 1)]
        else:
            layers = [conv(latent, width, 7)]
        if config.attn_window_size:
            layers.append(LocalAttention(width, config.attn_window_size))
        for i, stride in enumerate(config.decoder_rates):
            in_dim, out_dim = width // 2 ** i, width // 2 ** (i + 1)
            layers.append(DecoderBlock(in_dim, out_dim, stride, style=config.style, noise=config.noise,
                                       groups=out_dim if config.depthwise else 1))
        layers += [Snake1d(out_dim, inplace=True), conv(out_dim, 1, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, latent_dim, T) -> (B, 1, ~T * hop); ``generator`` draws SNAC's injected noise."""
        for module in self.model.modules():
            if isinstance(module, NoiseBlock):
                module.generator = generator
        return self.model(z)

    def context(self) -> int:
        """Latent frames on each side beyond which no output sample can see (a bound on the receptive field)."""
        return math.ceil(_reach(self.model, 1.0))


def _reach(module: nn.Module, step: float) -> float:
    """Generous bound on how far (in units of the module's input steps) an output depends on its input,
    for a stack of convs / transposed convs / windowed attention; ``step`` = input units per current step."""
    reach = 0.0
    for child in module.modules():
        if isinstance(child, nn.ConvTranspose1d):
            step /= child.stride[0]
            reach += child.kernel_size[0] * step
        elif isinstance(child, nn.Conv1d):
            reach += (child.kernel_size[0] - 1) * child.dilation[0] * step
            step *= child.stride[0]
        elif isinstance(child, LocalAttention):
            reach += child.window * step
    return reach
