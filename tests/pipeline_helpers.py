"""Shared setup for the pipelines tests: saved test tokenizers, small input folders, shard digests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import byte_tokenizer
import nibble_tokenizer

from tokkit.core import registry


def saved_tokenizers(tmp_path: Path, monkeypatch) -> dict[str, str]:
    """Register the test kinds and save one byte (text) and one nibble (audio-like) tokenizer."""
    monkeypatch.setitem(registry.KIND_LOADERS, byte_tokenizer.KIND, "byte_tokenizer:load_saved")
    monkeypatch.setitem(registry.KIND_LOADERS, nibble_tokenizer.KIND, "nibble_tokenizer:load_saved")
    byte_tokenizer.ByteTokenizer().save(tmp_path / "bytetok")
    nibble_tokenizer.NibbleTokenizer().save(tmp_path / "nibbletok")
    return {"text": str(tmp_path / "bytetok"), "audio": str(tmp_path / "nibbletok")}


def make_corpus(folder: Path, count: int = 7, suffix: str = ".txt") -> dict[str, bytes]:
    """``count`` small files in ``folder`` and a subfolder; returns relative path -> content."""
    contents = {}
    for i in range(count):
        relative = f"{'sub/' if i % 3 == 1 else ''}doc{i:02d}{suffix}"
        data = f"item {i} ".encode() * (i + 1) + bytes([200 + i])
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)
        contents[relative] = data
    return contents


def digests(folder: Path) -> dict[str, str]:
    """File name -> sha256 of every file in ``folder`` (shards and manifest)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}
