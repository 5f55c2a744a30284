"""The shape tokenizer's configuration: a dataclass that round-trips through config.json."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from tokkit.core.config import JsonConfig
from tokkit.errors import InputError
from tokkit.quant.bitpack import bits_for

KIND = "shape.vecset"


@dataclasses.dataclass
class ShapeCodecConfig(JsonConfig):
    """Sizes of one shape tokenizer.

    The encoder reads ``input_points`` surface samples (position + normal) of the shape normalised to the
    unit cube; ``num_latents`` learned queries gather them by cross-attention, self-attention refines
    them, and an RVQ of ``depth`` levels x ``codebook_size`` codes quantizes each latent. Tokens are
    ordered level by level (all latents' first codes, then their second codes, ...), so a prefix of K
    tokens means fewer latents (K < num_latents) or fewer residual levels. The decoder refines the
    kept latents and answers occupancy queries at any point by cross-attention. ``iso_level`` is the
    occupancy logit at which decode extracts the surface (0 = probability 1/2); a trained model's level is
    calibrated on training meshes (scripts/shape_iso_level.py) because the field is soft and its 1/2
    contour sits outside the true surface.
    """

    kind: ClassVar[str] = KIND

    input_points: int = 1024
    num_latents: int = 64
    depth: int = 8
    codebook_size: int = 1024
    codebook_dim: int = 16
    width: int = 96
    heads: int = 4
    encoder_depth: int = 2
    decoder_depth: int = 3
    mlp_ratio: float = 4.0
    fourier_bands: int = 8
    query_hidden: int = 128
    quantizer_dropout: float = 1.0
    iso_level: float = 0.0

    def __post_init__(self) -> None:
        for name in ("input_points", "num_latents", "depth", "codebook_dim", "width", "heads", "fourier_bands"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.codebook_size < 2:
            raise InputError(f"codebook_size must be >= 2, got {self.codebook_size}")
        if not -20.0 <= self.iso_level <= 20.0:
            raise InputError(f"iso_level must be an occupancy logit in [-20, 20], got {self.iso_level}")
        if self.width % self.heads:
            raise InputError(f"width {self.width} must be divisible by heads {self.heads}")

    @property
    def max_tokens(self) -> int:
        """N: every latent at every residual level."""
        return self.num_latents * self.depth

    @property
    def bits_per_token(self) -> int:
        """Bits each token takes in a packed token file."""
        return bits_for(self.codebook_size)
