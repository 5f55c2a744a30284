"""A tiny random-initialised speech codec and test signals for the audio tests (fast, no shipped weights)."""

from __future__ import annotations

import numpy as np
import torch

from tokkit.codecs.audio.config import CodecConfig
from tokkit.codecs.audio.model import CodecModel
from tokkit.codecs.audio.tokenizer import AudioTokenizer

TINY = dict(sample_rate=8000, hop=80, quantizer={"kind": "fsq", "levels": [4, 4, 3]}, encoder_width=16,
            encoder_depth=1, decoder_width=16, decoder_depth=1, mlp_ratio=2)


TINY_RVQ = dict(TINY, quantizer={"kind": "rvq", "depth": 3, "codebook_size": 16, "kmeans_init": False})
TINY_RFSQ = dict(TINY, quantizer={"kind": "rfsq", "levels": [4, 4, 3], "depth": 3, "quantizer_dropout": 1.0,
                                   "dropout_distribution": "pow2"})


def tiny_tokenizer(chunk_seconds: float = 20.0, seed: int = 0, config: dict = TINY) -> AudioTokenizer:
    """A random-init codec at 8 kHz, 100 frames/s (FSQ with 48 codes by default)."""
    torch.manual_seed(seed)
    return AudioTokenizer(CodecModel(CodecConfig(**config)), device="cpu", chunk_seconds=chunk_seconds)


def speechlike(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Voiced harmonics with a wandering pitch and a syllable envelope, in [-0.5, 0.5]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    pitch = 120 + 30 * np.sin(2 * np.pi * 0.7 * t) + rng.normal(0, 1, t.size).cumsum() / rate
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    audio = voice * envelope + 0.05 * rng.normal(size=t.size)
    return (0.5 * audio / np.abs(audio).max()).astype(np.float32)
