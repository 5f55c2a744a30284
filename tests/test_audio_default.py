"""Smoke test of the shipped default codec on the project's own sample."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf

import tokkit

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "speech.wav"


def test_shipped_default_encodes_and_decodes_the_sample() -> None:
    codec = tokkit.load("audio")
    assert codec.modality == "audio" and codec.codebook_size == 64000
    assert codec.describe()["kbps"] == 0.8
    info = sf.info(SAMPLE)
    tokens = codec.encode_file(SAMPLE)
    n24 = tokens.meta["n_samples"]
    assert abs(n24 - info.frames * 24000 / info.samplerate) <= 1
    assert tokens.codes.shape == (math.ceil(n24 / 480),)
    audio = codec.decode(tokens)
    assert audio.sample_rate == info.samplerate and audio.samples.size == info.frames
    original, _ = sf.read(SAMPLE, dtype="float32")
    correlation = np.corrcoef(np.abs(original), np.abs(audio.samples))[0, 1]
    assert correlation > 0.3  # the envelope of the speech survives (random weights give ~0)
