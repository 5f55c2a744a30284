"""JPEG, WebP and AVIF (Pillow) at a ladder of downscales x qualities; decoded pictures are upscaled back
(bicubic) to the original size. The smallest files fit budgets no single quality can reach."""

from __future__ import annotations

import io
import time
from typing import Iterator

import numpy as np
from PIL import Image, features

from tokkit.analysis.classic import Coded
from tokkit.analysis.image_metrics import psnr, ssim

SCALES = (1.0, 0.75, 0.5, 0.375, 0.25, 0.1875, 0.125)
QUALITIES = (0, 1, 3, 5, 8, 12, 16, 20, 25, 30, 40, 50, 60, 70, 80, 90, 95)


def codecs() -> dict[str, dict]:
    """Pillow save options per codec (AVIF only where this Pillow has it)."""
    table = {"JPEG": {"format": "JPEG", "optimize": True}, "WebP": {"format": "WEBP", "method": 6}}
    if features.check("avif"):
        table["AVIF"] = {"format": "AVIF", "speed": 4}
    return table


def available() -> dict[str, str | None]:
    """Codec -> None when Pillow can write it here, else the reason it is skipped."""
    have = codecs()
    return {name: None if name in have else f"this Pillow has no {name} support"
            for name in ("JPEG", "WebP", "AVIF")}


def code_picture(picture: np.ndarray, options: dict, scale: float, quality: int) -> tuple[int, np.ndarray, float, float]:
    """One setting on an (H, W, 3) uint8 picture: (file bytes, decoded (H, W, 3) uint8, encode s, decode s)."""
    height, width = picture.shape[:2]
    image = Image.fromarray(picture)
    started = time.perf_counter()
    if scale != 1.0:
        image = image.resize((max(8, round(width * scale)), max(8, round(height * scale))), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, quality=quality, **options)
    coded = time.perf_counter()
    decoded = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    if decoded.size != (width, height):
        decoded = decoded.resize((width, height), Image.Resampling.BICUBIC)
    array = np.asarray(decoded)
    return buffer.tell(), array, coded - started, time.perf_counter() - coded


def settings() -> list[tuple[float, int]]:
    """(scale, quality) pairs of the ladder."""
    return [(scale, quality) for scale in SCALES for quality in QUALITIES]


def classic_options(picture: np.ndarray, options: dict) -> list[tuple[int, float, float]]:
    """(bytes, PSNR, SSIM) of every downscale x quality setting of one codec on one picture."""
    results = []
    for scale, quality in settings():
        if options["format"] == "JPEG" and quality == 0:
            continue
        size, decoded, _, _ = code_picture(picture, options, scale, quality)
        results.append((size, psnr(picture, decoded), ssim(picture, decoded)))
    return results


def best_within(settings: list[tuple[int, float, float]], budget: int) -> tuple[float, float] | None:
    """Best (PSNR, SSIM) among settings whose file fits ``budget`` bytes, or None."""
    fitting = [(p, s) for n, p, s in settings if n <= budget]
    return max(fitting) if fitting else None


def ladder(name: str, picture: np.ndarray) -> Iterator[Coded]:
    """Every setting of codec ``name`` on an (H, W, 3) uint8 picture."""
    options = codecs()[name]
    for scale, quality in settings():
        if options["format"] == "JPEG" and quality == 0:
            continue
        size, decoded, encode_s, decode_s = code_picture(picture, options, scale, quality)
        yield Coded(size, decoded, f"q{quality} at {scale:g}x", encode_s, decode_s)
