"""NVIDIA Cosmos discrete tokenizers (Agarwal et al. 2025, "Cosmos World Foundation Model Platform"):
a Haar-wavelet patcher, a convolutional encoder, 1x1 convs around an FSQ bottleneck and a mirrored decoder.

- Image (DI): 2D ResNet levels (GroupNorm(32) + SiLU), 3x3 stride-2 downsampling, nearest 2x upsampling,
  a self-attention block in the middle (and at any level the checkpoint has one).
- Video (DV): the same levels made causal and factorized: every 3x3x3 convolution is a spatial (1, 3, 3)
  convolution followed by a temporal (3, 1, 1) one that sees only the current and two earlier frames
  (frame 0 repeated in front); per-frame LayerNorm; spatial attention within a frame, then causal
  temporal attention across frames at one position; hybrid down/upsampling (strided conv + average pool,
  repeat + residual conv). Frame 0 is coded on its own: a clip of 1 + k * T frames gives 1 + k latent frames.

Parameter names follow the authors' modules (``encoder.down.0.block.1.conv1.0.conv3d.weight``, ...) so
their state dict loads by name; the arithmetic is this module's (fused attention, norms without copies).
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from tokkit.core.config import JsonConfig
from tokkit.core.device import reuse_freed_memory
from tokkit.errors import InputError
from tokkit.nn.haar import patch_image, patch_video, unpatch_image, unpatch_video
from tokkit.nn.layout import Conv2d
from tokkit.quant.fsq import FSQ, FSQConfig

_EPS = 1e-6  # every norm of the authors' networks


@dataclasses.dataclass
class CosmosConfig(JsonConfig):
    """One Cosmos discrete tokenizer. ``video``: causal DV (else DI); ``spatial_compression`` /
    ``temporal_compression``: pixels (frames) per token along each axis, the Haar patch included;
    ``attn_down`` / ``attn_up``: encoder / decoder levels with attention after every block."""

    name: str = "cosmos_di8x8"
    video: bool = False
    patch_size: int = 4
    channels: int = 128
    channels_mult: tuple[int, ...] = (2, 4, 4)
    num_res_blocks: int = 2
    z_channels: int = 256
    levels: tuple[int, ...] = (8, 8, 8, 5, 5, 5)
    spatial_compression: int = 8
    temporal_compression: int = 1
    attn_down: tuple[int, ...] = ()
    attn_up: tuple[int, ...] = ()
    legacy_mode: bool = False

    @property
    def kind(self) -> str:  # type: ignore[override]
        """Registry key of a converted folder: the image or the video tokenizer."""
        return "video.published_cosmos" if self.video else "image.published_cosmos"

    def __post_init__(self) -> None:
        self.channels_mult = tuple(int(m) for m in self.channels_mult)
        self.levels = tuple(int(v) for v in self.levels)
        self.attn_down, self.attn_up = tuple(self.attn_down), tuple(self.attn_up)
        depth = len(self.channels_mult)
        for field in ("patch_size", "spatial_compression", "temporal_compression"):
            value = getattr(self, field)
            if value < 1 or value & (value - 1):
                raise InputError(f"Cosmos {field} must be a power of two, got {value}")
        if not depth or self.num_res_blocks < 1 or self.channels < 1 or self.z_channels < 1:
            raise InputError(f"a Cosmos network needs levels, blocks and channels, got {self}")
        if self.spatial_compression < self.patch_size or self.spatial_downs > (depth if not self.video else depth - 1):
            raise InputError(f"spatial compression {self.spatial_compression} with patch {self.patch_size} needs "
                             f"more levels than {depth}")
        if self.video and (self.temporal_compression < self.patch_size or self.temporal_downs > depth - 1):
            raise InputError(f"temporal compression {self.temporal_compression} with patch {self.patch_size} needs "
                             f"more levels than {depth}")
        if not self.video and self.temporal_compression != 1:
            raise InputError("an image tokenizer has temporal_compression 1")
        if not self.video and any((self.channels * m) % 32 for m in (1, *self.channels_mult)):
            raise InputError(f"image levels need widths divisible by 32 (GroupNorm), got {self}")
        if any(not 0 <= i < depth for i in (*self.attn_down, *self.attn_up)):
            raise InputError(f"attention levels must lie in [0, {depth}), got {self.attn_down} / {self.attn_up}")

    @property
    def patch_levels(self) -> int:
        return int(math.log2(self.patch_size))

    @property
    def spatial_downs(self) -> int:
        return int(math.log2(self.spatial_compression)) - self.patch_levels

    @property
    def temporal_downs(self) -> int:
        return int(math.log2(self.temporal_compression)) - self.patch_levels if self.video else 0

    @property
    def codebook_size(self) -> int:
        return math.prod(self.levels)


# -- layers shared by both networks ------------------------------------------------------------------
class ResBlock(nn.Module):
    """norm-SiLU-conv twice plus the (projected) input: (B, cin, ...) -> (B, cout, ...)."""

    def __init__(self, norm1: nn.Module, conv1: nn.Module, norm2: nn.Module, conv2: nn.Module,
                 nin_shortcut: nn.Module | None) -> None:
        super().__init__()
        self.norm1, self.conv1, self.norm2, self.conv2 = norm1, conv1, norm2, conv2
        self.nin_shortcut = nin_shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, cin, ...) -> (B, cout, ...); without autograd, the activations and the sum run in place on the
        fresh intermediates (two picture-sized buffers fewer at the peak)."""
        fresh = not torch.is_grad_enabled()
        h = self.norm1(x)
        h = self.conv1(F.silu(h, inplace=fresh and h is not x))
        h = self.norm2(h)
        h = self.conv2(F.silu(h, inplace=fresh))
        skip = x if self.nin_shortcut is None else self.nin_shortcut(x)
        return h.add_(skip) if fresh and h.shape == skip.shape and h is not skip else skip + h


class Attention(nn.Module):
    """Single-head self-attention with 1x1 projections and a residual; ``axis`` "space" attends within a
    picture / frame, "time" causally across the frames of one position. x (B, C, [T,] H, W) -> same."""

    def __init__(self, norm: nn.Module, q: nn.Module, k: nn.Module, v: nn.Module, proj_out: nn.Module,
                 axis: str) -> None:
        super().__init__()
        self.norm, self.q, self.k, self.v, self.proj_out = norm, q, k, v, proj_out
        self.axis = axis

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) or (B, C, T, H, W) -> same shape."""
        h = self.norm(x)
        q, k, v = self.q(h), self.k(h), self.v(h)
        shape = q.shape
        if x.ndim == 4:  # (B, C, H, W) -> (B, HW, C)
            fold = lambda t: t.flatten(2).transpose(1, 2)  # noqa: E731
        elif self.axis == "space":  # (B, C, T, H, W) -> (B*T, HW, C)
            fold = lambda t: t.flatten(3).permute(0, 2, 3, 1).flatten(0, 1)  # noqa: E731
        else:  # (B, C, T, H, W) -> (B*H*W, T, C)
            fold = lambda t: t.flatten(3).permute(0, 3, 2, 1).flatten(0, 1)  # noqa: E731
        out = F.scaled_dot_product_attention(fold(q), fold(k), fold(v), is_causal=self.axis == "time")
        if x.ndim == 4:
            out = out.transpose(1, 2).reshape(shape)
        elif self.axis == "space":
            b, c, t, hh, ww = shape
            out = out.reshape(b, t, hh * ww, c).permute(0, 3, 1, 2).reshape(shape)
        else:
            b, c, t, hh, ww = shape
            out = out.reshape(b, hh * ww, t, c).permute(0, 3, 2, 1).reshape(shape)
        return x + self.proj_out(out)


def _level_widths(c: CosmosConfig) -> tuple[list[int], list[int]]:
    """Input and output width of every level."""
    outs = [c.channels * m for m in c.channels_mult]
    return [c.channels * m for m in (1, *c.channels_mult[:-1])], outs


class _Level(nn.Module):
    """One resolution: ``block`` (ResBlocks), ``attn`` (one per block, or none), then a resampler."""

    def __init__(self, blocks: list[nn.Module], attns: list[nn.Module]) -> None:
        super().__init__()
        self.block = nn.ModuleList(blocks)
        self.attn = nn.ModuleList(attns)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, cin, ...) -> (B, cout, ...) at the next resolution when the level resamples."""
        for i, block in enumerate(self.block):
            x = block(x)
            if len(self.attn):
                x = self.attn[i](x)
        for name in ("downsample", "upsample"):
            if name in self._modules:
                x = self._modules[name](x)
        return x


class _Mid(nn.Module):
    def __init__(self, block_1: nn.Module, attn_1: nn.Module, block_2: nn.Module) -> None:
        super().__init__()
        self.block_1, self.attn_1, self.block_2 = block_1, attn_1, block_2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, ...) -> same shape."""
        return self.block_2(self.attn_1(self.block_1(x)))


# -- 2D (DI) ---------------------------------------------------------------------------------------
def _norm2d(width: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, width, eps=_EPS)


def _res2d(cin: int, cout: int) -> ResBlock:
    return ResBlock(_norm2d(cin), Conv2d(cin, cout, 3, padding=1), _norm2d(cout), Conv2d(cout, cout, 3, padding=1),
                    nn.Conv2d(cin, cout, 1) if cin != cout else None)


def _attn2d(width: int) -> Attention:
    return Attention(_norm2d(width), *(nn.Conv2d(width, width, 1) for _ in range(4)), axis="space")


class Downsample2d(nn.Module):
    """Zero-pad right and bottom by one, 3x3 stride-2 conv: (B, C, H, W) -> (B, C, H/2, W/2)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(width, width, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) -> (B, C, H/2, W/2)."""
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample2d(nn.Module):
    """Nearest 2x, then a 3x3 conv: (B, C, H, W) -> (B, C, 2H, 2W)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) -> (B, C, 2H, 2W)."""
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


# -- 3D causal factorized (DV) -----------------------------------------------------------------------
class CausalConv3d(nn.Module):
    """A 3D convolution that pads time only in front, with copies of frame 0 (``time_pad`` of them), and
    space with ``padding`` zeros: (B, cin, T, H, W) -> (B, cout, T', H', W')."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int, int], *, padding: int = 0, stride: int = 1,
                 time_stride: int = 1) -> None:
        super().__init__()
        self.conv3d = nn.Conv3d(cin, cout, kernel, stride=(time_stride, stride, stride), padding=(0, padding, padding))
        self.time_pad = kernel[0] - 1 + 1 - time_stride
        # temporal and pointwise kernels run as a 2D convolution over (time, pixels): 1.5x faster than conv3d here
        self.pointwise_space = kernel[1:] == (1, 1) and stride == 1 and padding == 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, cin, T, H, W) -> (B, cout, T', H', W')."""
        if self.time_pad > 0:
            x = torch.cat((x[:, :, :1].expand(-1, -1, self.time_pad, -1, -1), x), dim=2)
        if self.pointwise_space:
            b, _, t, h, w = x.shape
            out = F.conv2d(x.reshape(b, -1, t, h * w), self.conv3d.weight[..., 0], self.conv3d.bias,
                           stride=(self.conv3d.stride[0], 1))
            return out.reshape(b, -1, out.shape[2], h, w)
        return self.conv3d(x)


class FrameNorm(nn.Module):
    """GroupNorm with one group applied to every frame alone (causal): (B, C, T, H, W) -> same."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(1, width, eps=_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, T, H, W) -> same shape, each (b, t) slice normalised over (C, H, W)."""
        var, mean = torch.var_mean(x, dim=(1, 3, 4), keepdim=True, correction=0)
        scale = self.norm.weight[:, None, None, None] * torch.rsqrt(var + _EPS)  # (B, C, T, 1, 1)
        return torch.addcmul(self.norm.bias[:, None, None, None] - mean * scale, x, scale)


def _factorized(cin: int, cout: int) -> nn.Sequential:
    """A (1, 3, 3) spatial then a causal (3, 1, 1) temporal convolution."""
    return nn.Sequential(CausalConv3d(cin, cout, (1, 3, 3), padding=1), CausalConv3d(cout, cout, (3, 1, 1)))


def _point3d(cin: int, cout: int) -> CausalConv3d:
    return CausalConv3d(cin, cout, (1, 1, 1))


def _res3d(cin: int, cout: int) -> ResBlock:
    return ResBlock(FrameNorm(cin), _factorized(cin, cout), FrameNorm(cout), _factorized(cout, cout),
                    _point3d(cin, cout) if cin != cout else None)


def _attn3d(width: int) -> nn.Sequential:
    """Spatial attention within each frame, then causal temporal attention at each position."""
    return nn.Sequential(*(Attention(FrameNorm(width), *(_point3d(width, width) for _ in range(4)), axis=axis)
                           for axis in ("space", "time")))


class HybridDownsample3d(nn.Module):
    """Halve space (strided conv + 2x2 average) and/or time (causal strided conv + pair average), then a
    1x1x1 conv; neither: identity. (B, C, T, H, W) -> (B, C, T', H', W')."""

    def __init__(self, width: int, spatial: bool, temporal: bool) -> None:
        super().__init__()
        self.conv1 = CausalConv3d(width, width, (1, 3, 3), stride=2)
        self.conv2 = CausalConv3d(width, width, (3, 1, 1), time_stride=2)
        self.conv3 = _point3d(width, width)
        self.spatial, self.temporal = spatial, temporal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, T, H, W) -> (B, C, T' , H', W'), T' = 1 + (T - 1) / 2 when halving time."""
        if not (self.spatial or self.temporal):
            return x
        if self.spatial:
            x = F.pad(x, (0, 1, 0, 1))
            x = self.conv1(x) + F.avg_pool3d(x, (1, 2, 2), (1, 2, 2))
        if self.temporal:
            x = torch.cat((x[:, :, :1], x), dim=2)
            x = self.conv2(x) + F.avg_pool3d(x, (2, 1, 1), (2, 1, 1))
        return self.conv3(x)


class HybridUpsample3d(nn.Module):
    """Double time (repeat, drop the first copy, add a causal temporal conv) and/or space (nearest 2x plus a
    spatial conv), then a 1x1x1 conv; neither: identity. (B, C, T, H, W) -> (B, C, T', H', W')."""

    def __init__(self, width: int, spatial: bool, temporal: bool) -> None:
        super().__init__()
        self.conv1 = CausalConv3d(width, width, (3, 1, 1))
        self.conv2 = CausalConv3d(width, width, (1, 3, 3), padding=1)
        self.conv3 = _point3d(width, width)
        self.spatial, self.temporal = spatial, temporal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, T, H, W) -> (B, C, 2T - 1, H, W) in time and/or (..., 2H, 2W) in space."""
        if not (self.spatial or self.temporal):
            return x
        if self.temporal and x.shape[2] > 1:
            x = x.repeat_interleave(2, dim=2)[:, :, 1:]
        if self.temporal:
            x = self.conv1(x) + x
        if self.spatial:
            x = F.interpolate(x, scale_factor=(1.0, 2.0, 2.0), mode="nearest")
            x = self.conv2(x) + x
        return self.conv3(x)


class _Kit:
    """The layers one network kind is built from: 2D (DI) or causal factorized 3D (DV)."""

    def __init__(self, c: CosmosConfig) -> None:
        self.c = c
        video = c.video
        self.res, self.attn = (_res3d, _attn3d) if video else (_res2d, _attn2d)
        self.norm = FrameNorm if video else _norm2d
        self.conv = _factorized if video else (lambda cin, cout: Conv2d(cin, cout, 3, padding=1))
        self.patch, self.unpatch = (patch_video, unpatch_video) if video else (patch_image, unpatch_image)
        self.pixels = 3 * c.patch_size ** (3 if video else 2)  # channels of a Haar-patched input

    def downsample(self, i: int, depth: int, width: int) -> nn.Module | None:
        """The resampler after encoder level ``i`` (the authors' placement rules)."""
        c = self.c
        if c.video:
            return HybridDownsample3d(width, i < c.spatial_downs, i < c.temporal_downs) if i < depth - 1 else None
        return Downsample2d(width) if i < c.spatial_downs else None

    def upsample(self, i: int, depth: int, width: int) -> nn.Module | None:
        """The resampler after decoder level ``i``: level ``depth - 1 - rev`` undoes encoder level ``rev``."""
        c = self.c
        if not c.video:
            return Upsample2d(width) if i >= depth - c.spatial_downs else None
        if i == 0:
            return None
        rev = depth - i - 1
        temporal = rev < c.temporal_downs if c.legacy_mode else 0 < rev < c.temporal_downs + 1
        spatial = temporal or (rev < c.spatial_downs and c.spatial_downs > c.temporal_downs)
        return HybridUpsample3d(width, spatial, temporal)


class Encoder(nn.Module):
    """Pixels (B, 3, H, W) or frames (B, 3, 1 + k * tc, H, W) in [-1, 1] -> latents (B, z_channels, [1 + k,]
    H / s, W / s)."""

    def __init__(self, c: CosmosConfig) -> None:
        super().__init__()
        self.config = c
        self.kit = kit = _Kit(c)
        ins, outs = _level_widths(c)
        self.conv_in = kit.conv(kit.pixels, c.channels)
        self.down = nn.ModuleList()
        for i, (cin, cout) in enumerate(zip(ins, outs)):
            level = _Level([kit.res(cin if j == 0 else cout, cout) for j in range(c.num_res_blocks)],
                           [kit.attn(cout) for _ in range(c.num_res_blocks)] if i in c.attn_down else [])
            resample = kit.downsample(i, len(outs), cout)
            if resample is not None:
                level.downsample = resample
            self.down.append(level)
        width = outs[-1]
        self.mid = _Mid(kit.res(width, width), kit.attn(width), kit.res(width, width))
        self.norm_out = kit.norm(width)
        self.conv_out = kit.conv(width, c.z_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 3, [T,] H, W) -> (B, z_channels, [t,] h, w)."""
        x = self.conv_in(self.kit.patch(x, self.config.patch_levels))
        for level in self.down:
            x = level(x)
        return self.conv_out(F.silu(self.norm_out(self.mid(x))))


class Decoder(nn.Module):
    """Latents (B, z_channels, [t,] h, w) -> pixels (B, 3, [1 + (t - 1) * tc,] h * s, w * s) (unclamped)."""

    def __init__(self, c: CosmosConfig) -> None:
        super().__init__()
        self.config = c
        self.kit = kit = _Kit(c)
        _, outs = _level_widths(c)
        depth = len(outs)
        width = outs[-1]
        self.conv_in = kit.conv(c.z_channels, width)
        self.mid = _Mid(kit.res(width, width), kit.attn(width), kit.res(width, width))
        levels: list[_Level] = []
        for i in reversed(range(depth)):
            cout = outs[i]
            level = _Level([kit.res(width if j == 0 else cout, cout) for j in range(c.num_res_blocks + 1)],
                           [kit.attn(cout) for _ in range(c.num_res_blocks + 1)] if i in c.attn_up else [])
            resample = kit.upsample(i, depth, cout)
            if resample is not None:
                level.upsample = resample
            width = cout
            levels.insert(0, level)
        self.up = nn.ModuleList(levels)
        self.norm_out = kit.norm(width)
        self.conv_out = kit.conv(width, kit.pixels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, z_channels, [t,] h, w) -> (B, 3, [T,] H, W)."""
        x = self.mid(self.conv_in(z))
        for level in reversed(self.up):
            x = level(x)
        return self.kit.unpatch(self.conv_out(F.silu(self.norm_out(x))), self.config.patch_levels)


# -- the whole tokenizer -----------------------------------------------------------------------------
class CosmosModel(nn.Module):
    """Pixels in [-1, 1] <-> FSQ indices: images (B, 3, H, W) <-> (B, h, w); videos (B, 3, T, H, W) <->
    (B, t, h, w). H, W must be multiples of ``spatial_compression``; T must be 1 + k * ``temporal_compression``."""

    def __init__(self, config: CosmosConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        dim = len(c.levels)
        self.encoder, self.decoder = Encoder(c), Decoder(c)
        if c.video:
            self.quant_conv: nn.Module = _point3d(c.z_channels, dim)
            self.post_quant_conv: nn.Module = _point3d(dim, c.z_channels)
        else:
            self.quant_conv, self.post_quant_conv = nn.Conv2d(c.z_channels, dim, 1), nn.Conv2d(dim, c.z_channels, 1)
        with torch.device("cpu"):  # its constants are computed with .item(): never on the meta device
            self.quantizer = FSQ(FSQConfig(levels=list(c.levels)))

    def latents(self, pixels: torch.Tensor) -> torch.Tensor:
        """pixels (B, 3, [T,] H, W) -> pre-quantization latents (B, len(levels), [t,] h, w)."""
        return self.quant_conv(self.encoder(pixels))

    @torch.inference_mode()
    @reuse_freed_memory()
    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """pixels (B, 3, [T,] H, W) in [-1, 1] -> indices (B, [t,] h, w) int64."""
        return self.quantizer.encode(self.latents(pixels).movedim(1, -1))

    @torch.inference_mode()
    @reuse_freed_memory()
    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """indices (B, [t,] h, w) -> pixels (B, 3, [T,] H, W), unclamped."""
        codes = self.quantizer.decode(indices).movedim(-1, 1).contiguous()
        return self.decoder(self.post_quant_conv(codes))
