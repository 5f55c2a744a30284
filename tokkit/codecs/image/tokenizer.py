"""``ImageTokenizer``: the 1D image tokenizer behind ``tokkit.load("image")``.

Any picture becomes K tokens (1 <= K <= N, chosen at encode time; fewer tokens, coarser picture).
Inputs of any size and mode are converted and resized as documented in :mod:`tokkit.codecs.image.io`;
the tokens record the original width and height, and ``decode`` returns a picture of that size.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Sequence

import numpy as np
from PIL import Image

from tokkit.codecs.image.config import KIND
from tokkit.codecs.image.io import IMAGE_SUFFIXES, MAX_PIXELS, MIN_SIDE, Placement, place, from_array, from_model_output, read_rgb, to_model_input, to_rgb
from tokkit.core.atomic import atomic_open, check_writable
from tokkit.core.meta import Int, IntList, bad_field
from tokkit.codecs.model_tokenizer import ModelTokenizer
from tokkit.core.tokenizer import Option
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError

if TYPE_CHECKING:  # the model (torch) is imported when a tokenizer is built, not when its options are read
    from tokkit.codecs.image.model import ImageCodecModel

#: Pillow format for each output suffix write_decoded accepts
OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
                  ".tif": "TIFF", ".tiff": "TIFF", ".ppm": "PPM"}
BATCH = 32  # images per forward pass in encode_batch / decode_batch


class ImageTokenizer(ModelTokenizer):
    """ViT tokenizer: ``encode`` a picture -> (K,) codes; ``decode`` any prefix -> a picture.

    ``device`` is "auto", "cpu" or "cuda".
    """

    modality: ClassVar[str] = "image"
    kind: ClassVar[str] = KIND
    input_suffixes: ClassVar[tuple[str, ...]] = IMAGE_SUFFIXES
    output_suffix: ClassVar[str] = ".png"
    meta_schema: ClassVar[dict] = {
        "image_size": IntList(2, MIN_SIDE, MAX_PIXELS // MIN_SIDE, required=True),
        "padded_size": IntList(2, MIN_SIDE, MAX_PIXELS, required=True),
        "model_size": Int(1), "max_tokens": Int(1),
    }
    options: ClassVar[tuple[Option, ...]] = (
        Option("tokens", int, None, "keep the first K tokens of each picture (fewer tokens, coarser picture, "
               "smaller file); default: all N", low=1, high="max_tokens", metavar="K"),
    )

    def __init__(self, model: ImageCodecModel, *, device: str = "auto") -> None:
        super().__init__(model, device=device)

    @property
    def max_tokens(self) -> int:
        """N: the most tokens one picture can have."""
        return self.config.num_tokens

    # -- encode -----------------------------------------------------------------------------
    def encode(self, item: Any, *, tokens: int | None = None) -> Tokens:
        """Encode a Pillow image, a numpy array ((H, W) or (H, W, 3|4); uint8, uint16 or float in
        [0, 1]) or image file bytes into its first ``tokens`` codes (default: all N)."""
        return self.encode_batch([item], tokens=tokens)[0]

    def encode_file(self, path: str | os.PathLike, *, tokens: int | None = None) -> Tokens:
        """Read an image file (PNG, JPEG, WebP, ...; any mode) and encode it."""
        return self.encode(read_rgb(path), tokens=tokens)

    def encode_batch(self, items: Sequence[Any] | Iterable[Any], *, tokens: int | None = None) -> list[Tokens]:
        """Encode many pictures in batches of ``BATCH``; each result equals encoding it alone."""
        import torch

        count = self._check_count(tokens)
        prepared = [to_model_input(self._as_rgb(item), self.config.image_size) for item in items]
        out: list[Tokens] = []
        for start in range(0, len(prepared), BATCH):
            chunk = prepared[start:start + BATCH]
            pixels = torch.from_numpy(np.stack([array for array, _ in chunk])).to(self.device)
            pixels = pixels.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
            codes = self.model.encode(pixels)[:, :count].cpu().numpy()
            out.extend(self._tokens(row, placement) for row, (_, placement) in zip(codes, chunk))
        return out

    # -- decode -----------------------------------------------------------------------------
    def decode(self, tokens: Tokens | np.ndarray | Sequence[int]) -> Image.Image:
        """Tokens (any prefix length 1..N) -> an RGB picture of the original width and height; bare codes
        (K,) -> a square picture at the model size."""
        return self.decode_batch([tokens])[0]

    def decode_batch(self, batch: Sequence[Tokens | np.ndarray]) -> list[Image.Image]:
        """Decode many token sequences, batching those of equal length."""
        import torch

        checked = [self._check_codes(tokens) for tokens in batch]
        results: list[Image.Image | None] = [None] * len(checked)
        for length in sorted({codes.size for codes, _ in checked}):
            members = [i for i, (codes, _) in enumerate(checked) if codes.size == length]
            for start in range(0, len(members), BATCH):
                group = members[start:start + BATCH]
                codes = torch.from_numpy(np.stack([checked[i][0] for i in group])).to(self.device)
                pixels = self.model.decode(codes).add(1.0).mul(127.5).round().clamp(0, 255)
                arrays = pixels.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
                for i, array in zip(group, arrays):
                    results[i] = from_model_output(array, checked[i][1])
        return results  # type: ignore[return-value]

    def validate_meta(self, tokens: Tokens) -> None:
        """The picture is at most MAX_PIXELS and its padded canvas is the one encoding makes for its size."""
        width, height = tokens.meta["image_size"]
        if width * height > MAX_PIXELS:
            raise bad_field("image_size", [width, height], f"at most {MAX_PIXELS} pixels")
        expected = place(width, height)
        if tokens.meta["padded_size"] != [expected.padded_width, expected.padded_height]:
            raise bad_field("padded_size", tokens.meta["padded_size"],
                            f"[{expected.padded_width}, {expected.padded_height}] for a {width}x{height} picture")

    def write_decoded(self, item: Image.Image, path: str | os.PathLike, *, force: bool = False) -> None:
        """Write a decoded picture atomically; the format follows the suffix (PNG, JPEG, WebP, ...)."""
        suffix = Path(path).suffix.lower()
        if suffix not in OUTPUT_FORMATS:
            raise InputError(f"cannot write {path}: use one of {', '.join(OUTPUT_FORMATS)}")
        check_writable(path, force=force)
        with atomic_open(path) as handle:
            item.save(handle, format=OUTPUT_FORMATS[suffix])

    def save(self, directory: str | os.PathLike) -> Path:
        from tokkit.nn.weights import save_weights

        return save_weights(self.model, directory)

    def example_inputs(self, count: int = 3, seed: int = 0) -> list[Image.Image]:
        """``count`` synthetic RGB pictures of different sizes and aspect ratios (gradients, a disc, noise)."""
        rng = np.random.default_rng(seed)
        pictures = []
        for index in range(count):
            height, width = 24 + 8 * index, 40 - 6 * index
            y, x = np.mgrid[0:height, 0:width] / max(height, width)
            disc = ((x - rng.random()) ** 2 + (y - rng.random()) ** 2 < 0.1)[..., None]
            array = np.stack([x, y, 1 - x * y], axis=-1) * 0.7 + 0.3 * disc + 0.05 * rng.random((height, width, 3))
            pictures.append(Image.fromarray((np.clip(array, 0, 1) * 255).astype(np.uint8), "RGB"))
        return pictures

    def describe(self) -> dict[str, Any]:
        facts = super().describe()
        facts.update(image_size=self.config.image_size, patch_size=self.config.patch_size,
                     max_tokens=self.config.num_tokens, bits_per_token=self.config.bits_per_token,
                     quantizer=self.config.quantizer,
                     parameters=sum(p.numel() for p in self.model.parameters()))
        return facts

    # -- internals --------------------------------------------------------------------------
    def _check_count(self, tokens: int | None) -> int:
        if tokens is None:
            return self.max_tokens
        if isinstance(tokens, bool) or not isinstance(tokens, (int, np.integer)) or not 1 <= tokens <= self.max_tokens:
            raise InputError(f"tokens must be an integer from 1 to {self.max_tokens} (this model's N), got {tokens!r}")
        return int(tokens)

    @staticmethod
    def _as_rgb(item: Any) -> Image.Image:
        if isinstance(item, Image.Image):
            return to_rgb(item)
        if isinstance(item, (bytes, bytearray, memoryview)):
            return read_rgb(io.BytesIO(bytes(item)))
        if isinstance(item, np.ndarray):
            return from_array(item)
        raise InputError(f"cannot encode a {type(item).__name__}: pass a Pillow image, a numpy array or image file bytes")

    def _tokens(self, codes: np.ndarray, placement: Placement) -> Tokens:
        meta = self.base_meta()
        meta.update(placement.to_meta(), model_size=self.config.image_size, max_tokens=self.max_tokens)
        return Tokens(codes.astype(np.int64), meta)

    def _check_codes(self, tokens: Tokens | np.ndarray | Sequence[int]) -> tuple[np.ndarray, Placement]:
        codes, meta = self.codes_and_meta(tokens)
        if codes.ndim != 1 or not 1 <= codes.size <= self.max_tokens:
            raise InputError(f"image tokens must be a 1-D array of 1 to {self.max_tokens} codes, got shape {codes.shape}")
        if codes.min() < 0 or codes.max() >= self.codebook_size:
            raise InputError(f"image codes must lie in [0, {self.codebook_size}); these tokens are corrupted")
        if not isinstance(tokens, Tokens):  # bare codes: the picture at the model's own size
            size = self.config.image_size
            return codes.astype(np.int64), Placement(size, size, size, size)
        return codes.astype(np.int64), Placement.from_meta(meta)


def load_saved(directory: str | os.PathLike, config: dict, *, device: str = "auto") -> ImageTokenizer:
    """Registry loader for saved "image.titok" folders; ``device`` is "auto", "cpu" or "cuda"."""
    from tokkit.codecs.image.config import ImageCodecConfig
    from tokkit.codecs.image.model import ImageCodecModel
    from tokkit.nn.weights import load_weights

    from tokkit.core.device import resolve_device

    device = resolve_device(device)  # refuse a bad device before reading the weights
    model = load_weights(ImageCodecModel(ImageCodecConfig.from_dict(config)), directory)
    return ImageTokenizer(model, device=device)
