"""Smoke test of the shipped default codec on the project's own sample."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_helpers import one_error_line

import tokkit

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "speech.wav"


def test_shipped_default_encodes_and_decodes_the_sample() -> None:
    codec = tokkit.load("audio")
    assert codec.modality == "audio" and codec.codebook_size == 64000 and codec.n_codebooks == 4
    assert codec.describe()["kbps"] == 3.2  # all four residual levels unless --codebooks / --bandwidth
    info = sf.info(SAMPLE)
    tokens = codec.encode_file(SAMPLE)
    n24 = tokens.meta["n_samples"]
    assert abs(n24 - info.frames * 24000 / info.samplerate) <= 1
    assert tokens.codes.shape == (4, math.ceil(n24 / 480)) and tokens.meta["kbps"] == pytest.approx(3.2)
    audio = codec.decode(tokens)
    assert audio.sample_rate == info.samplerate and audio.samples.size == info.frames
    original, _ = sf.read(SAMPLE, dtype="float32")
    correlation = np.corrcoef(np.abs(original), np.abs(audio.samples))[0, 1]
    assert correlation > 0.3  # the envelope of the speech survives (random weights give ~0)


def test_more_levels_of_the_default_decode_closer_to_the_sample() -> None:
    """0.8, 1.6 and 3.2 kbps from one model: each larger prefix of levels is nearer the input (log-mel L1)."""
    from tokkit.analysis.metrics_audio import mel_distance
    from tokkit.codecs.audio.io import load_audio, resample

    codec = tokkit.load("audio")
    original = load_audio(SAMPLE)
    reference = resample(original.samples, original.sample_rate, 16000)
    distances = []
    for codebooks in (1, 2, 4):
        tokens = codec.encode(original, codebooks=codebooks)
        assert tokens.codes.shape[0] == codebooks and tokens.meta["kbps"] == pytest.approx(0.8 * codebooks)
        decoded = codec.decode(tokens)
        distances.append(mel_distance(reference, resample(decoded.samples, decoded.sample_rate, 16000)))
    assert distances[0] > distances[1] > distances[2], distances


GEN1_TOKENS = Path(__file__).resolve().parent / "fixtures" / "audio_gen1.tok"  # 1 s encoded by the first default


def test_tokens_of_the_first_default_are_refused_by_name(run_cli, tmp_path) -> None:
    """The second-generation default refuses the first one's token files in one line that says what made them."""
    from tokkit.errors import TokenizerMismatchError

    tokens = tokkit.load_tokens(GEN1_TOKENS)
    assert tokens.meta["tokenizer"]["hash"] == "a27df693b9a1da32"
    codec = tokkit.load("audio")
    with pytest.raises(TokenizerMismatchError, match="first speech default"):
        codec.decode(tokens)
    code, _, err = run_cli("decode", GEN1_TOKENS, "-o", tmp_path / "out.wav")
    assert code != 0 and "first speech default" in one_error_line(err) and "0d76efb" in err
    assert not (tmp_path / "out.wav").exists()
