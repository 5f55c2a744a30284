"""What mixture inference needs from a BPE tokenizer: its ordered merge list and the words its merges
were learned on (text -> pre-tokens spelled in the merge list's alphabet).

Every tokenizer ``tokkit.load`` reads as BPE text (HF ``tokenizer.json``, ``.tiktoken`` rank files,
``pattern=`` for unknown ones, saved folders, built-in names), plus a GPT-2 ``merges.txt``. Reading,
pre-tokenizing and recovering merges from ranks are ``tokkit.text``'s; this module only adds what
training saw that encoding does not need: one merge per token, and SentencePiece's word boundaries.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tokkit.errors import InputError, UnsupportedFormatError
from tokkit.text.merges import dedupe_merges  # noqa: F401  (part of this module's interface)

#: SentencePiece's word-boundary mark, written by Metaspace normalizers and pre-tokenizers
METASPACE = "\u2581"


@dataclass(frozen=True)
class BpeSource:
    """An ordered merge list and the pre-tokenizer that produced the words it was learned on.

    Words and merge parts are ``str`` in one alphabet: the byte-level alphabet for byte-level BPE (HF
    byte-level files and tiktoken rank tables), plain characters for SentencePiece-style ones.
    """

    merges: list[tuple[str, str]]
    pretokenize: Callable[[str], list[str]]
    end_of_word_suffix: str
    description: str
    duplicates_removed: int = 0


def _text_tokenizer(tokenizer: str | os.PathLike, options: dict[str, Any]):
    """The BPETokenizer of a merges.txt or of anything ``tokkit.load`` reads, or a one-line error."""
    from tokkit.core.registry import builtin_path, load
    from tokkit.text.bpe import BPETokenizer
    from tokkit.text.hf_json import tokenizer_json_from_merges_txt

    target = os.fspath(tokenizer)
    path = Path(target).expanduser()
    if not path.exists() and builtin_path(target) is None:
        raise InputError(f"no such tokenizer file: {tokenizer}")
    if path.is_file() and path.suffix.lower() == ".txt":
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read merges ({exc})") from None
        config = tokenizer_json_from_merges_txt(text, str(path))
        return BPETokenizer.from_tokenizer_json(json.dumps(config, ensure_ascii=False), source=str(path), **options)
    loaded = load(target, **options)
    if not isinstance(loaded, BPETokenizer):
        raise UnsupportedFormatError(f"{tokenizer} tokenizes {loaded.modality}, not BPE text: it has no merge "
                                     "list; mixture inference needs a BPE text tokenizer")
    return loaded


def load_bpe_source(tokenizer: str | os.PathLike, **options: Any) -> BpeSource:
    """Merge list and pre-tokenizer of a BPE tokenizer (a file, folder or built-in name ``tokkit.load``
    reads, with its ``options`` such as ``pattern=``; or a merges.txt), or a one-line error."""
    bpe = _text_tokenizer(tokenizer, options)
    config = bpe.hf_config()
    model = (config or {}).get("model") or {}
    if model.get("continuing_subword_prefix"):
        raise UnsupportedFormatError(f"{tokenizer}: BPE with a continuing-subword prefix is not supported")
    merges = bpe.merge_list()
    if not merges:
        raise UnsupportedFormatError(f"{tokenizer}: the BPE model has no merges to analyse")
    merges, removed = dedupe_merges(merges)
    pretokenize: Callable[[str], list[str]] = bpe.vocab_pieces
    if config is not None and config.get("pre_tokenizer") is None:
        if not _normalizer_writes_metaspace(config.get("normalizer")):
            raise UnsupportedFormatError(
                f"{tokenizer}: the tokenizer has no pre-tokenizer, so its training words are unknown; "
                "mixture inference needs word boundaries"
            )

        def pretokenize(text: str) -> list[str]:
            return [word for piece in bpe.vocab_pieces(text) for word in _split_metaspace(piece)]

    kind = f"tiktoken {bpe.encoding_name}" if config is None else "HF BPE"
    return BpeSource(merges, pretokenize, model.get("end_of_word_suffix") or "", f"{kind} {tokenizer}", removed)


def _normalizer_writes_metaspace(normalizer: dict | None) -> bool:
    return METASPACE in json.dumps(normalizer or {}, ensure_ascii=False)


def _split_metaspace(text: str) -> list[str]:
    """SentencePiece's default word split for files whose normalizer writes the boundary mark: a new
    word starts at every mark."""
    pieces = text.split(METASPACE)
    words = [METASPACE + piece for piece in pieces[1:]]
    if pieces[0]:
        words.insert(0, pieces[0])
    return words
