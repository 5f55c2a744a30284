"""Loaders ``tokkit.load`` calls for text tokenizers: HF tokenizer.json, .tiktoken files, tokkit folders."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tokkit.errors import InputError, UnsupportedFormatError
from tokkit.text.bpe import BPETokenizer
from tokkit.text.tiktoken_files import file_sha256, known_encoding, read_tiktoken_ranks


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text: not a tokenizer.json") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def load_tiktoken_file(path: Path, *, pattern: str | None = None, special_tokens: dict[str, int] | None = None,
                       engine: str = "auto") -> BPETokenizer:
    """A ``.tiktoken`` rank file; a well-known one brings its pattern and specials, others need ``pattern``."""
    ranks = read_tiktoken_ranks(path)
    spec = known_encoding(file_sha256(path))
    if spec is None and not pattern:
        raise UnsupportedFormatError(
            f"{path} is not a known tiktoken encoding (cl100k_base, o200k_base, p50k_base, r50k_base): "
            f"pass its pre-tokenizer regex, e.g. tokkit.load(path, pattern=...)")
    return BPETokenizer.from_ranks(
        ranks, pattern or spec.pattern,
        special_tokens if special_tokens is not None else (spec.special_tokens if spec else {}),
        encoding_name=spec.name if spec else path.stem, engine=engine)


def load_file(path: str | os.PathLike, **options: Any) -> BPETokenizer:
    """An HF ``tokenizer.json`` (BPE) or a ``.tiktoken`` rank file.

    Options: ``engine`` ("auto", "tiktoken", "hf"); for .tiktoken files also ``pattern`` and ``special_tokens``.
    """
    path = Path(path)
    if path.suffix.lower() == ".tiktoken":
        return load_tiktoken_file(path, **options)
    unknown = set(options) - {"engine"}
    if unknown:
        raise InputError(f"option(s) {', '.join(sorted(unknown))} apply to .tiktoken files only")
    return BPETokenizer.from_tokenizer_json(_read_text(path), source=str(path), **options)


def load_saved(directory: Path, config: dict[str, Any]) -> BPETokenizer:
    """A folder written by :meth:`BPETokenizer.save` (config.json + tokenizer.json [+ ranks.tiktoken])."""
    directory = Path(directory)
    engine = config.get("engine", "auto")
    if config.get("format") == "tiktoken":
        try:
            special = {str(k): int(v) for k, v in config.get("special_tokens", {}).items()}
        except (AttributeError, TypeError, ValueError):
            raise UnsupportedFormatError(f"{directory}/config.json: special_tokens must map text to ids") from None
        return BPETokenizer.from_ranks(read_tiktoken_ranks(directory / config.get("ranks", "ranks.tiktoken")),
                                       str(config.get("pattern") or ""), special,
                                       encoding_name=str(config.get("encoding", "")), engine=engine)
    tokenizer_file = directory / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise InputError(f"{directory} has a text.bpe config.json but no tokenizer.json")
    return BPETokenizer.from_tokenizer_json(_read_text(tokenizer_file), source=str(tokenizer_file), engine=engine)
