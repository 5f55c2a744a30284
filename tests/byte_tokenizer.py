"""A minimal real tokenizer (one token per byte) for testing the modality-independent core and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tokkit.core.atomic import atomic_write_bytes, atomic_write_text
from tokkit.core.tokenizer import Tokenizer
from tokkit.core.tokens import Tokens

KIND = "test.bytes"


class ByteTokenizer(Tokenizer):
    modality = "text"
    kind = KIND
    output_suffix = ".txt"

    def __init__(self, salt: str = "") -> None:
        self.salt = salt

    def fingerprint(self) -> bytes:
        return f"bytes:{self.salt}".encode()

    @property
    def codebook_size(self) -> int:
        return 256

    def encode(self, item) -> Tokens:
        data = item.encode() if isinstance(item, str) else bytes(item)
        return Tokens(np.frombuffer(data, dtype=np.uint8).astype(np.int64), {**self.base_meta(), "source_bytes": len(data)})

    def decode(self, tokens: Tokens) -> bytes:
        self.check_tokens(tokens)
        return tokens.codes.astype(np.uint8).tobytes()

    def encode_file(self, path) -> Tokens:
        return self.encode(Path(path).read_bytes())

    def write_decoded(self, item, path, *, force: bool = False) -> None:
        atomic_write_bytes(path, item)

    def save(self, directory) -> Path:
        directory = Path(directory)
        atomic_write_text(directory / "config.json", json.dumps({"kind": KIND, "salt": self.salt}))
        return directory


def load_saved(directory: Path, config: dict) -> ByteTokenizer:
    return ByteTokenizer(config.get("salt", ""))
