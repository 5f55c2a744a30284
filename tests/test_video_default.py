"""The shipped video tokenizer on a clip made from the project's sample picture (a pan): causal codes,
every prefix K decodes, quality rising with K, and P-frames no worse than frame 0 coded alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tokkit

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "shapes.png"


@pytest.fixture(scope="module")
def tok():
    return tokkit.load("video")


@pytest.fixture(scope="module")
def pan() -> np.ndarray:
    """Six 64x64 frames panning 3 px per frame across the sample picture."""
    picture = np.asarray(Image.open(SAMPLE).convert("RGB").resize((96, 96), Image.Resampling.LANCZOS))
    return np.stack([picture[10:74, 3 * t:3 * t + 64] for t in range(6)])


def psnr(a, b) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)))


def test_default_is_causal_and_every_prefix_decodes(tok, pan) -> None:
    assert tok.kind == "video.causal" and tok.max_tokens == 40 and tok.config.fps == 16
    full = tok.encode(pan, tokens=16)
    np.testing.assert_array_equal(tok.encode(pan[:3], tokens=16).codes, full.codes[:3])
    scores = {}
    for k in (1, 8, 16, tok.max_tokens):
        decoded = tok.decode(tok.encode(pan, tokens=k)).numpy()
        assert decoded.shape == pan.shape
        scores[k] = np.mean([psnr(a, b) for a, b in zip(pan, decoded)])
    # measured on the shipped model: see tokkit/codecs/video/RECIPE.md
    assert scores[8] > scores[1] + 1.0 and scores[16] > scores[1] + 1.5 and scores[tok.max_tokens] > 15.0
