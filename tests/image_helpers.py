"""A tiny random-initialised image tokenizer and test pictures for the image tests (fast, no shipped weights)."""

from __future__ import annotations

import numpy as np
import torch

from tokkit.codecs.image.config import ImageCodecConfig
from tokkit.codecs.image.model import ImageCodecModel
from tokkit.codecs.image.tokenizer import ImageTokenizer

TINY = dict(image_size=16, patch_size=4, num_tokens=8, quantizer={"kind": "fsq", "levels": [5, 3]},
            width=32, encoder_depth=1, decoder_depth=1, heads=2, mlp_ratio=2.0)


def tiny_tokenizer(seed: int = 0) -> ImageTokenizer:
    """A random-init tokenizer: 16x16 input, N = 8 tokens, 15 codes (4 bits each)."""
    torch.manual_seed(seed)
    return ImageTokenizer(ImageCodecModel(ImageCodecConfig(**TINY)), device="cpu")


def picture(height: int = 24, width: int = 36, seed: int = 0) -> np.ndarray:
    """A smooth colour picture (H, W, 3) uint8 with some noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    channels = [np.sin(6 * x + 1), np.cos(5 * y), np.sin(4 * (x + y))]
    image = (np.stack(channels, axis=-1) * 0.4 + 0.5) * 255 + rng.normal(0, 8, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)
