"""Image inputs: the resize policy and its undoing, mode conversions, and clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tokkit.codecs.image.io import MAX_ASPECT, from_model_output, place, read_rgb, to_model_input
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError, TokenizerMismatchError, UnsupportedFormatError

from image_helpers import picture, tiny_tokenizer


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.mark.parametrize("size", [(16, 16), (37, 20), (20, 37), (300, 40), (9, 8), (640, 480)])
def test_resize_policy_pads_to_max_aspect_and_is_undone(size) -> None:
    width, height = size
    placement = place(width, height)
    assert placement.padded_width >= width and placement.padded_height >= height
    aspect = max(placement.padded_width, placement.padded_height) / min(placement.padded_width, placement.padded_height)
    assert aspect <= MAX_ASPECT + 1e-9
    # only the shorter side is padded, and only when the input is too elongated
    if max(size) / min(size) <= MAX_ASPECT:
        assert (placement.padded_width, placement.padded_height) == size
    image = Image.fromarray(picture(height, width))
    array, placement = to_model_input(image, 32)
    assert array.shape == (32, 32, 3) and array.dtype == np.uint8
    restored = from_model_output(array, placement)
    assert restored.size == size


def test_flat_picture_survives_the_resize_round_trip() -> None:
    flat = np.full((30, 70, 3), (200, 100, 50), dtype=np.uint8)
    array, placement = to_model_input(Image.fromarray(flat), 16)
    np.testing.assert_array_equal(np.asarray(from_model_output(array, placement)), flat)


def _save(tmp_path, name: str, image: Image.Image) -> str:
    path = tmp_path / name
    image.save(path)
    return str(path)


def test_grayscale_alpha_16bit_and_palette_are_converted(tmp_path) -> None:
    gray = _save(tmp_path, "gray.png", Image.fromarray(np.full((12, 12), 77, np.uint8), "L"))
    assert np.asarray(read_rgb(gray))[0, 0].tolist() == [77, 77, 77]
    rgba = np.zeros((12, 12, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, 6:, 3] = 255  # left half transparent -> white, right half opaque red
    alpha = np.asarray(read_rgb(_save(tmp_path, "alpha.png", Image.fromarray(rgba, "RGBA"))))
    assert alpha[0, 0].tolist() == [255, 255, 255] and alpha[0, 11].tolist() == [255, 0, 0]
    deep = Image.fromarray(np.full((12, 12), 65535 // 2, np.uint16))
    assert deep.mode.startswith("I")
    assert np.asarray(read_rgb(_save(tmp_path, "deep.png", deep)))[0, 0].tolist() == [127, 127, 127]
    palette = Image.fromarray(picture(12, 12)).convert("P")
    assert read_rgb(_save(tmp_path, "palette.png", palette)).mode == "RGB"


def test_every_mode_encodes(tok, tmp_path) -> None:
    for mode in ("L", "LA", "RGBA", "P", "CMYK", "1", "I;16"):
        image = Image.fromarray(picture(20, 20)).convert("RGB").convert(mode if mode != "I;16" else "L")
        if mode == "I;16":
            image = Image.fromarray(np.asarray(image).astype(np.uint16) * 257)
        path = _save(tmp_path, f"m{len(mode)}{mode.replace(';', '')}.{'jpg' if mode == 'CMYK' else 'png'}", image)
        tokens = tok.encode_file(path, tokens=2)
        assert tokens.codes.shape == (2,) and tok.decode(tokens).size == (20, 20)


def test_non_image_and_corrupt_files_are_refused(tok, tmp_path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    with pytest.raises(UnsupportedFormatError, match="not an image"):
        tok.encode_file(text)
    good = tmp_path / "good.png"
    Image.fromarray(picture(64, 64)).save(good)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match="damaged or truncated"):
        tok.encode_file(corrupt)
    with pytest.raises(InputError, match="no such file"):
        tok.encode_file(tmp_path / "missing.png")


def test_tiny_images_and_bad_arrays_are_refused(tok) -> None:
    with pytest.raises(InputError, match="at least 8x8"):
        tok.encode(np.zeros((4, 30, 3), np.uint8))
    with pytest.raises(InputError, match="shape"):
        tok.encode(np.zeros((8, 8, 2), np.uint8))
    with pytest.raises(InputError, match="NaN"):
        tok.encode(np.full((8, 8, 3), np.nan, np.float32))
    with pytest.raises(InputError, match="uint8, uint16 or float"):
        tok.encode(np.zeros((8, 8, 3), np.int64))
    with pytest.raises(InputError, match="cannot encode a str"):
        tok.encode("photo.png")


@pytest.mark.parametrize("k", [0, 9, -1, 2.5, True])
def test_token_count_outside_1_to_n_is_refused(tok, k) -> None:
    with pytest.raises(InputError, match=r"from 1 to 8"):
        tok.encode(picture(), tokens=k)


def test_bad_tokens_are_refused(tok) -> None:
    good = tok.encode(picture(), tokens=3)
    with pytest.raises(InputError, match=r"lie in \[0, 15\)"):
        tok.decode(Tokens(np.array([1, 15, 2]), dict(good.meta)))
    with pytest.raises(InputError, match="1 to 8 codes"):
        tok.decode(Tokens(np.zeros(9, np.int64), dict(good.meta)))
    with pytest.raises(InputError, match="image_size"):
        tok.decode(Tokens(good.codes, {k: v for k, v in good.meta.items() if k != "image_size"}))
    other = tiny_tokenizer(seed=1)
    with pytest.raises(TokenizerMismatchError):
        other.decode(good)
