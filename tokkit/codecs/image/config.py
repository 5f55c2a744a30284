"""The image tokenizer's configuration: a dataclass that round-trips through config.json."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

from tokkit.core.config import JsonConfig
from tokkit.core.bitpack import bits_for
from tokkit.errors import InputError

KIND = "image.titok"


@dataclasses.dataclass
class ImageCodecConfig(JsonConfig):
    """Resolution, patching, token count, quantizer and ViT sizes of one 1D image tokenizer.

    The encoder reads ``(image_size / patch_size)**2`` patches plus ``num_tokens`` learned latent
    tokens; the latents are quantized by ``quantizer`` (a tokkit.quant config with a ``kind``, e.g.
    {"kind": "fsq", "levels": [8, 8, 8, 8]}); the decoder rebuilds the patches from any prefix of them.
    """

    kind: ClassVar[str] = KIND

    image_size: int = 64
    patch_size: int = 8
    num_tokens: int = 32
    quantizer: dict[str, Any] = dataclasses.field(default_factory=lambda: {"kind": "fsq", "levels": [8, 8, 8, 8]})
    width: int = 192
    encoder_depth: int = 4
    decoder_depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0

    def __post_init__(self) -> None:
        if self.patch_size < 1 or self.image_size % self.patch_size:
            raise InputError(f"image_size {self.image_size} must be a multiple of patch_size {self.patch_size}")
        if self.num_tokens < 1:
            raise InputError(f"num_tokens must be >= 1, got {self.num_tokens}")
        if self.width % self.heads:
            raise InputError(f"width {self.width} must be divisible by heads {self.heads}")
        if self.quantizer.get("kind") != "fsq":
            raise InputError(f"the image tokenizer supports the \"fsq\" quantizer, got {self.quantizer.get('kind')!r}")

    @property
    def grid(self) -> int:
        """Patches per side."""
        return self.image_size // self.patch_size

    @property
    def codebook_size(self) -> int:
        """Number of distinct codes (product of FSQ levels)."""
        return math.prod(self.quantizer["levels"])

    @property
    def bits_per_token(self) -> int:
        """Bits each token takes in a packed token file: ceil(log2 codebook_size)."""
        return bits_for(self.codebook_size)

    def quantizer_options(self) -> dict[str, Any]:
        """The quantizer config without its ``kind``, for ``FSQConfig``."""
        return {k: v for k, v in self.quantizer.items() if k != "kind"}
