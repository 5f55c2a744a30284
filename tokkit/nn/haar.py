"""Orthogonal Haar wavelet patching of images and videos (Cosmos tokenizers' patcher and unpatcher).

One level splits every even/odd pair along each axis into its sum and difference: an image
(B, C, H, W) becomes (B, 4C, H/2, W/2) with bands ordered [LL, LH, HL, HH] (first letter: width,
second: height), a video (B, C, T, H, W) becomes (B, 8C, T/2, H/2, W/2) with bands ordered
[LLL, LLH, ..., HHH] (time, height, width). Bands are scaled so that one level is the orthonormal
Haar transform times 1/2 (image) or 1/(2*sqrt 2) (video), as NVIDIA's Cosmos patcher does; ``levels``
levels patch by ``2**levels`` per axis. The video patcher first repeats frame 0 ``2**levels`` times, so
a clip of 1 + k * 2**levels frames becomes 1 + k patched frames and frame 0 is coded on its own
(the unpatcher drops the repeats). Sizes along patched axes must be multiples of ``2**levels``.
"""

from __future__ import annotations

import torch

# one level of the scaled transform is a plain butterfly (a + b, a - b) times these: 0.5**2 and 0.5**3
_IMAGE_SCALE = 0.25
_VIDEO_SCALE = 0.125


def _split(x: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Even and odd entries along ``dim`` -> (even + odd, even - odd), each half as long."""
    pairs = x.unflatten(dim, (x.shape[dim] // 2, 2))
    even, odd = pairs.select(dim + 1, 0), pairs.select(dim + 1, 1)
    return even + odd, even - odd


def _merge(low: torch.Tensor, high: torch.Tensor, dim: int) -> torch.Tensor:
    """Inverse butterfly: (low + high, low - high) interleaved along ``dim`` (twice as long)."""
    return torch.stack((low + high, low - high), dim=dim + 1).flatten(dim, dim + 1)


def _check(x: torch.Tensor, dims: tuple[int, ...], factor: int) -> None:
    if any(x.shape[d] % factor for d in dims):
        raise ValueError(f"Haar patching by {factor} needs sizes divisible by {factor}, got {tuple(x.shape)}")


def patch_image(x: torch.Tensor, levels: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C * 4**levels, H / 2**levels, W / 2**levels)."""
    _check(x, (2, 3), 2**levels)
    for _ in range(levels):
        low, high = _split(x, 3)
        ll, lh = _split(low, 2)
        hl, hh = _split(high, 2)
        x = torch.cat((ll, lh, hl, hh), dim=1) * _IMAGE_SCALE
    return x


def unpatch_image(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Inverse of :func:`patch_image`: (B, C * 4**levels, h, w) -> (B, C, h * 2**levels, w * 2**levels)."""
    for _ in range(levels):
        ll, lh, hl, hh = x.chunk(4, dim=1)
        x = _merge(_merge(ll, lh, 2), _merge(hl, hh, 2), 3)
    return x


def patch_video(x: torch.Tensor, levels: int) -> torch.Tensor:
    """(B, C, T, H, W), T = 1 + k * 2**levels -> (B, C * 8**levels, 1 + k, H / 2**levels, W / 2**levels)."""
    factor = 2**levels
    if levels:
        x = torch.cat((x[:, :, :1].expand(-1, -1, factor, -1, -1), x[:, :, 1:]), dim=2)
    _check(x, (2, 3, 4), factor)
    for _ in range(levels):
        low, high = _split(x, 2)
        bands = []
        for part in (low, high):
            pl, ph = _split(part, 3)
            bands.extend(_split(pl, 4))
            bands.extend(_split(ph, 4))
        x = torch.cat(bands, dim=1) * _VIDEO_SCALE
    return x


def unpatch_video(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Inverse of :func:`patch_video`: (B, C * 8**levels, t, h, w) -> (B, C, 1 + (t - 1) * 2**levels, ...)."""
    for _ in range(levels):
        b = x.chunk(8, dim=1)
        ll, lh, hl, hh = (_merge(b[2 * i], b[2 * i + 1], 4) for i in range(4))
        x = _merge(_merge(ll, lh, 3), _merge(hl, hh, 3), 2)
    return x[:, :, 2**levels - 1:]
