"""The codec's configuration: a dataclass that round-trips through config.json."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from tokkit.core.config import JsonConfig
from tokkit.errors import InputError

KIND = "audio.codec"


@dataclasses.dataclass
class CodecConfig(JsonConfig):
    """Sample rate, token hop, quantizer and network sizes of one audio codec.

    ``hop`` samples per token (24000 / 480 = 50 tokens/s); the encoder reads an STFT at ``hop / 2``;
    the head predicts one ``4 * hop``-point spectrum per token. ``quantizer`` is a tokkit.quant config
    with a ``kind``: {"kind": "fsq", "levels": [8, 8, 8, 5, 5, 5]} (one code per frame) or
    {"kind": "rvq", "depth": 2, "codebook_size": 1024} (``depth`` codes per frame); ``dim`` is set by the model.
    """

    kind: ClassVar[str] = KIND

    sample_rate: int = 24000
    hop: int = 480
    quantizer: dict[str, Any] = dataclasses.field(default_factory=lambda: {"kind": "fsq", "levels": [8, 8, 8, 5, 5, 5]})
    encoder_width: int = 256
    encoder_depth: int = 4
    decoder_width: int = 320
    decoder_depth: int = 8
    mlp_ratio: int = 3
    kernel: int = 7

    def __post_init__(self) -> None:
        if self.hop % 2 or self.hop < 8:
            raise InputError(f"hop must be an even number of samples >= 8, got {self.hop}")
        if self.sample_rate < 1000:
            raise InputError(f"sample_rate must be at least 1000 Hz, got {self.sample_rate}")
        if "kind" not in self.quantizer:
            raise InputError("the quantizer config needs a \"kind\" (e.g. \"fsq\")")

    @property
    def frame_rate(self) -> float:
        """Tokens per second."""
        return self.sample_rate / self.hop
