"""A tiny random-initialised video tokenizer and test clips for the video tests (fast, no shipped weights)."""

from __future__ import annotations

import numpy as np
import torch

from tokkit.codecs.video.config import VideoCodecConfig
from tokkit.codecs.video.model import VideoCodecModel
from tokkit.codecs.video.tokenizer import VideoTokenizer

TINY = dict(image_size=16, patch_size=4, num_tokens=8, quantizer={"kind": "fsq", "levels": [5, 3]},
            width=32, encoder_depth=1, decoder_depth=1, heads=2, mlp_ratio=2.0)


def tiny_tokenizer(seed: int = 0, prediction: str = "gate") -> VideoTokenizer:
    """A random-init tokenizer: 16x16 frames, N = 8 tokens, 15 codes, P-frames by ``prediction``; its
    temporal layers are given random (not zero) weights so that the context really changes the codes."""
    torch.manual_seed(seed)
    model = VideoCodecModel(VideoCodecConfig(**TINY, prediction=prediction))
    head = model.correction if prediction == "residual" else model.copy_gate
    with torch.no_grad():
        for layer in (model.encoder_context, model.decoder_context, head):
            layer.weight.normal_(0, 0.2)
        model.predicted_frame.normal_(0, 0.2)
    return VideoTokenizer(model, device="cpu")


def clip(frames: int = 6, height: int = 24, width: int = 36, seed: int = 0) -> np.ndarray:
    """A panning colour pattern with noise: (T, H, W, 3) uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    out = []
    for t in range(frames):
        shift = 0.08 * t
        channels = [np.sin(6 * (x + shift) + 1), np.cos(5 * y + shift), np.sin(4 * (x + y - shift))]
        image = (np.stack(channels, axis=-1) * 0.4 + 0.5) * 255 + rng.normal(0, 8, (height, width, 3))
        out.append(np.clip(image, 0, 255).astype(np.uint8))
    return np.stack(out)
