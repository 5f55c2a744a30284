"""Reading images of any mode into 8-bit RGB, and the resize policy between any size and the model's
square input.

Conversions (documented for users): EXIF orientation is applied; the first frame of animated files is
used; grayscale is replicated to RGB; alpha (and palette transparency) is composited over white;
16-bit and 32-bit integer images are scaled to 8 bits (65535 -> 255); float images are clipped to
0..255; CMYK and other modes go through Pillow's RGB conversion.

Size policy: the shorter side is padded by edge replication until the aspect ratio is at most
``MAX_ASPECT`` (so panoramas are not squashed too far), then the image is resized to the model's
S x S (aspect not kept: the stretch is undone on decode). Decoding resizes back to the padded size and
crops the padding away, so the output has the input's exact width and height.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tokkit.core import formats
from tokkit.errors import InputError, UnsupportedFormatError

IMAGE_SUFFIXES = formats.suffixes("image")  # one table for the reader and the default-tokenizer choice
MAX_ASPECT = 1.5
MIN_SIDE = 8
#: the most pixels a picture may have (read or decoded): Pillow's decompression-bomb warning threshold
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
#: padded canvases larger than this (pixels) are built from a box-reduced picture, bounding memory for
#: extreme aspect ratios (a 100000x8 strip would otherwise pad to 100000x66667)
CANVAS_LIMIT = 1 << 25
BACKGROUND = (255, 255, 255)


def read_rgb(path: str | os.PathLike) -> Image.Image:
    """Open an image file as 8-bit RGB (conversions in the module docstring); clear errors otherwise."""
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:  # checked from the header, before decoding
                raise InputError(f"{path} is {image.width}x{image.height} pixels, more than the {MAX_PIXELS} "
                                 f"tokkit decodes; downscale it first")
            image.load()
            return to_rgb(image)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise UnsupportedFormatError(f"{path} is not an image Pillow can read (PNG, JPEG, WebP, BMP, GIF, TIFF, ...)") from None
    except Image.DecompressionBombError as exc:
        raise InputError(f"{path} is too large to decode safely: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{path} is damaged or truncated and cannot be decoded: {exc}") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow image -> 8-bit RGB: orientation applied, alpha over white, high bit depths scaled."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image, dtype=np.float64)
        if image.mode != "F":
            values = values / 257.0 if values.max(initial=0) > 255 else values
        image = Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
        image = Image.alpha_composite(canvas, rgba)
    return image.convert("RGB")


def from_array(array: Any) -> Image.Image:
    """A numpy image (H, W), (H, W, 1|3|4); uint8, uint16 or float in [0, 1] -> 8-bit RGB."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InputError(f"an image array must have shape (H, W), (H, W, 3) or (H, W, 4), got {array.shape}")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise InputError("the image array holds NaN or infinite values")
        array = np.rint(np.clip(array, 0.0, 1.0) * 255)
    elif array.dtype == np.uint16:
        array = np.rint(array / 257.0)
    elif array.dtype != np.uint8:
        raise InputError(f"image arrays must be uint8, uint16 or float in [0, 1], got {array.dtype}")
    array = array.astype(np.uint8)
    mode = {2: "L", 3: "RGB", 4: "RGBA"}[array.shape[2] if array.ndim == 3 else 2]
    return to_rgb(Image.fromarray(array, mode))


@dataclass(frozen=True)
class Placement:
    """Where an input of ``width`` x ``height`` sits inside its padded canvas (``padded_*``)."""

    width: int
    height: int
    padded_width: int
    padded_height: int

    @property
    def offset(self) -> tuple[int, int]:
        """Left and top padding."""
        return (self.padded_width - self.width) // 2, (self.padded_height - self.height) // 2

    def to_meta(self) -> dict[str, list[int]]:
        return {"image_size": [self.width, self.height], "padded_size": [self.padded_width, self.padded_height]}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> "Placement":
        try:
            (width, height), (padded_width, padded_height) = meta["image_size"], meta["padded_size"]
            placement = cls(int(width), int(height), int(padded_width), int(padded_height))
        except (KeyError, TypeError, ValueError):
            raise InputError("the image tokens lack a valid image_size/padded_size in their metadata") from None
        if min(placement.width, placement.height) < 1 or placement.padded_width < placement.width \
                or placement.padded_height < placement.height or placement.width * placement.height > MAX_PIXELS:
            raise InputError("the image tokens carry an impossible image_size/padded_size")
        return placement


def place(width: int, height: int) -> Placement:
    """The padded canvas for an input: the shorter side grows until the aspect ratio is <= MAX_ASPECT."""
    if min(width, height) < MIN_SIDE:
        raise InputError(f"the image is {width}x{height} pixels; the image tokenizer needs at least {MIN_SIDE}x{MIN_SIDE}")
    padded_width = max(width, int(np.ceil(height / MAX_ASPECT)))
    padded_height = max(height, int(np.ceil(width / MAX_ASPECT)))
    return Placement(width, height, padded_width, padded_height)


def to_model_input(image: Image.Image, size: int) -> tuple[np.ndarray, Placement]:
    """RGB image -> (size, size, 3) uint8 model input and the placement needed to undo it.

    When the padded canvas would exceed ``CANVAS_LIMIT`` pixels, the picture is first box-reduced by integer
    factors that keep the canvas at least 4x the model size per side; memory then stays within a small
    multiple of the picture's own size.
    """
    placement = place(*image.size)
    left, top = placement.offset
    canvas_width, canvas_height = placement.padded_width, placement.padded_height
    if canvas_width * canvas_height > CANVAS_LIMIT:
        fx, fy = max(1, canvas_width // (4 * size)), max(1, canvas_height // (4 * size))
        image = image.reduce((fx, fy))
        left, top = round(left / fx), round(top / fy)
        canvas_width = max(image.width + left, -(-canvas_width // fx))
        canvas_height = max(image.height + top, -(-canvas_height // fy))
    array = np.asarray(image, dtype=np.uint8)
    right = canvas_width - image.width - left
    bottom = canvas_height - image.height - top
    padded = np.pad(array, ((top, bottom), (left, right), (0, 0)), mode="edge")
    resized = Image.fromarray(padded, "RGB").resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.asarray(resized, dtype=np.uint8), placement


def from_model_output(array: np.ndarray, placement: Placement) -> Image.Image:
    """(size, size, 3) uint8 decoder output -> RGB image of the original width and height.

    A canvas above ``CANVAS_LIMIT`` pixels is never made: the picture's own region is resized directly.
    """
    picture = Image.fromarray(array, "RGB")
    left, top = placement.offset
    if placement.padded_width * placement.padded_height > CANVAS_LIMIT:
        sx, sy = picture.width / placement.padded_width, picture.height / placement.padded_height
        box = (left * sx, top * sy, (left + placement.width) * sx, (top + placement.height) * sy)
        return picture.resize((placement.width, placement.height), Image.Resampling.BICUBIC, box=box)
    canvas = picture.resize((placement.padded_width, placement.padded_height), Image.Resampling.BICUBIC)
    return canvas.crop((left, top, left + placement.width, top + placement.height))
