"""The causal video tokenizer on a tiny random model: causality, prefix decoding, per-frame K, fps and
size restored, bad inputs as one clear error."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tokkit.errors import InputError
from video_helpers import clip, tiny_tokenizer


@pytest.fixture(scope="module", params=["gate", "residual"])
def tok(request):
    return tiny_tokenizer(prediction=request.param)


def test_codes_of_first_frames_equal_codes_of_the_cut_clip(tok) -> None:
    frames = clip(7)
    full = tok.encode(frames, tokens=5).codes
    for j in (1, 3, 6):
        np.testing.assert_array_equal(tok.encode(frames[:j], tokens=5).codes, full[:j])
    # and the context matters: frame 1 coded alone differs from frame 1 coded after frame 0
    assert not np.array_equal(tok.encode(frames[1:2], tokens=8).codes[0], tok.encode(frames[:2], tokens=8).codes[1])


def test_decoding_is_causal_too(tok) -> None:
    frames = clip(5)
    tokens = tok.encode(frames, tokens=4)
    whole = tok.decode(tokens).numpy()
    cut = tokens.codes[:3]
    from tokkit.core.tokens import Tokens

    meta = dict(tokens.meta, frames=3, source_frames=3)
    np.testing.assert_array_equal(tok.decode(Tokens(cut, meta)).numpy(), whole[:3])


def test_every_prefix_decodes_and_frame_zero_is_the_image_case(tok) -> None:
    frames = clip(3)
    full = tok.encode(frames)
    assert full.codes.shape == (3, tok.max_tokens)
    for k in range(1, tok.max_tokens + 1):
        tokens = tok.encode(frames, tokens=k)
        assert tokens.codes.shape == (3, k)
        np.testing.assert_array_equal(tokens.codes[0], full.codes[0, :k])  # frame 0 has no context
        assert tok.decode(tokens).numpy().shape == frames.shape


def test_per_frame_token_counts(tok) -> None:
    frames = clip(4)
    tokens = tok.encode(frames, frame_tokens="8,2,5,1")
    assert tokens.meta["frame_tokens"] == [8, 2, 5, 1] and tokens.codes.shape == (16,)
    assert tok.decode(tokens).numpy().shape == frames.shape
    with pytest.raises(InputError, match="per-frame"):
        tok.encode(frames, frame_tokens="8,2")


def test_frame_rate_and_size_are_restored(tok) -> None:
    frames = clip(30, 20, 50)
    tokens = tok.encode_frames(frames, 30)  # 1 s at 30 fps -> 16 model frames
    assert tokens.codes.shape[0] == 16 and tokens.meta["fps"] == 30
    decoded = tok.decode(tokens)
    assert decoded.fps == 30 and decoded.numpy().shape == (30, 20, 50, 3)


def test_an_image_is_a_one_frame_clip(tok) -> None:
    picture = Image.fromarray(clip(1)[0])
    tokens = tok.encode(picture, tokens=3)
    assert tokens.codes.shape == (1, 3)
    assert tok.decode(tokens).numpy().shape == (1, 24, 36, 3)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((0, 24, 24, 3), np.uint8), "no frames"),
    (np.zeros((2, 1, 1, 3), np.uint8), "at least"),
    ([np.zeros((20, 20, 3), np.uint8), np.zeros((20, 22, 3), np.uint8)], "one size"),
    ("not a clip", "no such file"),
])
def test_bad_clips_are_clear_errors(tok, bad, message) -> None:
    with pytest.raises(InputError, match=message):
        tok.encode(bad)


@pytest.mark.parametrize("k", [0, 9, 2.5, True])
def test_token_count_outside_range(tok, k) -> None:
    with pytest.raises(InputError, match="tokens"):
        tok.encode(clip(2), tokens=k)


def test_corrupted_tokens_are_refused(tok) -> None:
    from tokkit.core.tokens import Tokens

    tokens = tok.encode(clip(2), frame_tokens="3,2")
    with pytest.raises(InputError, match="frame_tokens"):
        tok.decode(Tokens(tokens.codes, dict(tokens.meta, frame_tokens=[3, 3])))
    with pytest.raises(InputError, match="corrupted"):
        tok.decode(Tokens(tokens.codes + 100, tokens.meta))


def test_bare_codes_decode_at_the_model_size(tok) -> None:
    codes = tok.encode(clip(3), tokens=4).codes
    assert tok.decode(codes).numpy().shape == (3, 16, 16, 3)


def test_prediction_version_is_in_the_config_and_the_identity() -> None:
    gate, residual = tiny_tokenizer(prediction="gate"), tiny_tokenizer(prediction="residual")
    assert "prediction" not in gate.config.to_dict()  # version 1 configs (and hashes) are unchanged
    assert residual.config.to_dict()["prediction"] == "residual"
    assert gate.identity["hash"] != residual.identity["hash"]
    assert gate.describe()["prediction"] == "gate" and residual.describe()["prediction"] == "residual"
    frames = clip(3)
    from tokkit.errors import TokenizerMismatchError

    with pytest.raises(TokenizerMismatchError, match="decode them with the tokenizer that made them"):
        gate.decode(residual.encode(frames, tokens=4))
    from tokkit.codecs.video.config import VideoCodecConfig

    with pytest.raises(InputError, match="prediction must be one of"):
        VideoCodecConfig(prediction="copy")


def test_residual_frames_refine_the_previous_decoded_frame() -> None:
    """With a zero correction a residual P-frame is exactly the previous decoded frame."""
    import torch

    tok = tiny_tokenizer(prediction="residual")
    model = tok.model
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    previous = torch.rand(2, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        saved = model.correction.weight.clone(), model.correction.bias.clone()
        model.correction.weight.zero_()
        model.correction.bias.zero_()
        out = model(x, torch.full((2,), 8), previous)
        model.correction.weight.copy_(saved[0])
        model.correction.bias.copy_(saved[1])
    torch.testing.assert_close(out, previous)
