"""A two-level test tokenizer (codes (2, T): high and low nibble of each byte) standing in for an RVQ audio codec.

It reads any file's bytes, so pipelines can be tested on ``.wav``-named files without a real codec,
refuses files starting with b"BAD", to exercise per-item failures, and can be made slow
(``delay`` seconds per item) so that a run can be killed midway.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from byte_tokenizer import ByteTokenizer

from tokkit.core.atomic import atomic_write_text
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError

KIND = "test.nibbles"


class NibbleTokenizer(ByteTokenizer):
    modality = "audio"
    kind = KIND
    output_suffix = ".wav"

    def __init__(self, salt: str = "", delay: float = 0.0) -> None:
        super().__init__(salt)
        self.delay = delay

    @property
    def codebook_size(self) -> int:
        return 16

    def encode(self, item) -> Tokens:
        time.sleep(self.delay)
        data = bytes(item)
        if data.startswith(b"BAD"):
            raise InputError("not a valid recording")
        values = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
        return Tokens(np.stack([values >> 4, values & 15]), {**self.base_meta(), "sample_rate": 8, "n_samples": len(data)})

    def decode(self, tokens: Tokens) -> bytes:
        self.check_tokens(tokens)
        return (tokens.codes[0] * 16 + tokens.codes[1]).astype(np.uint8).tobytes()

    def save(self, directory) -> Path:
        directory = Path(directory)
        atomic_write_text(directory / "config.json", json.dumps({"kind": KIND, "salt": self.salt, "delay": self.delay}))
        return directory


def load_saved(directory: Path, config: dict) -> NibbleTokenizer:
    return NibbleTokenizer(config.get("salt", ""), config.get("delay", 0.0))
