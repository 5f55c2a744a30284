"""The image tokenizer's invariants on a tiny random-init model: every prefix decodes, bits per token,
batch = single, save/load round trip, prefix = truncation, original size restored."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

import tokkit
from tokkit.core.container import encode_container

from image_helpers import picture, tiny_tokenizer


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def test_every_prefix_length_decodes_to_the_original_size(tok) -> None:
    full = tok.encode(picture(24, 36))
    assert full.codes.shape == (8,) and full.codes.dtype == np.int64
    assert 0 <= full.codes.min() and full.codes.max() < tok.codebook_size == 15
    outputs = []
    for k in range(1, tok.max_tokens + 1):
        tokens = tok.encode(picture(24, 36), tokens=k)
        assert tokens.codes.shape == (k,)
        np.testing.assert_array_equal(tokens.codes, full.codes[:k])
        decoded = tok.decode(tokens)
        assert decoded.mode == "RGB" and decoded.size == (36, 24)
        outputs.append(np.asarray(decoded))
    # the decoder reads the prefix: different K give different pictures
    assert len({o.tobytes() for o in outputs}) > 1


@pytest.mark.parametrize("k", [1, 3, 8])
def test_bits_are_k_times_ceil_log2_codebook(tok, k: int) -> None:
    bits = math.ceil(math.log2(tok.codebook_size))
    assert tok.config.bits_per_token == bits == 4
    image = picture()
    one = encode_container(tok.encode(image, tokens=1))
    many = encode_container(tok.encode(image, tokens=k))
    assert len(many) - len(one) == math.ceil(k * bits / 8) - math.ceil(bits / 8)


def test_batch_equals_single(tok) -> None:
    images = [picture(24, 36, seed=s) for s in range(3)] + [picture(40, 20, seed=9)]
    batch = tok.encode_batch(images, tokens=5)
    for image, tokens in zip(images, batch):
        single = tok.encode(image, tokens=5)
        np.testing.assert_array_equal(single.codes, tokens.codes)
        assert single.meta == tokens.meta
    mixed = [batch[0], tok.encode(images[1], tokens=2), batch[3]]
    for tokens, decoded in zip(mixed, tok.decode_batch(mixed)):
        np.testing.assert_array_equal(np.asarray(tok.decode(tokens)), np.asarray(decoded))


def test_save_load_round_trip(tok, tmp_path) -> None:
    """Weights are stored as float16: the first load matches the model closely, later round trips exactly."""
    tok.save(tmp_path / "a")
    loaded = tokkit.load(tmp_path / "a")
    assert loaded.kind == "image.titok" and loaded.modality == "image"
    assert loaded.identity["hash"] == tok.identity["hash"]
    loaded.save(tmp_path / "b")
    again = tokkit.load(tmp_path / "b")
    assert again.identity["hash"] == loaded.identity["hash"]
    image = picture(30, 30, seed=3)
    np.testing.assert_array_equal(again.encode(image).codes, loaded.encode(image).codes)
    tokens = loaded.encode(image, tokens=4)
    np.testing.assert_array_equal(np.asarray(again.decode(tokens)), np.asarray(loaded.decode(tokens)))
    close = np.abs(np.asarray(loaded.decode(tokens), float) - np.asarray(tok.decode(tokens), float))
    assert close.max() <= 4


def test_meta_records_size_and_identity(tok) -> None:
    meta = tok.encode(picture(20, 90), tokens=3).meta
    assert meta["modality"] == "image" and meta["tokenizer"]["kind"] == "image.titok"
    assert meta["image_size"] == [90, 20] and meta["padded_size"] == [90, 60]
    assert meta["model_size"] == 16 and meta["max_tokens"] == 8 and meta["codebook_size"] == 15


def test_inputs_of_any_kind_give_the_same_tokens(tok, tmp_path) -> None:
    array = picture(24, 36)
    path = tmp_path / "p.png"
    Image.fromarray(array).save(path)
    expected = tok.encode(array).codes
    np.testing.assert_array_equal(tok.encode(Image.fromarray(array)).codes, expected)
    np.testing.assert_array_equal(tok.encode(path.read_bytes()).codes, expected)
    np.testing.assert_array_equal(tok.encode_file(path).codes, expected)
    np.testing.assert_array_equal(tok.encode(array.astype(np.float32) / 255).codes, expected)


def test_write_decoded_by_suffix_and_refuses_overwrite(tok, tmp_path) -> None:
    decoded = tok.decode(tok.encode(picture(), tokens=2))
    tok.write_decoded(decoded, tmp_path / "out.png")
    tok.write_decoded(decoded, tmp_path / "out.jpg")
    assert Image.open(tmp_path / "out.png").size == decoded.size
    assert Image.open(tmp_path / "out.jpg").format == "JPEG"
    with pytest.raises(tokkit.TokkitError, match="exists"):
        tok.write_decoded(decoded, tmp_path / "out.png")
    with pytest.raises(tokkit.TokkitError, match="cannot write"):
        tok.write_decoded(decoded, tmp_path / "out.xyz")
