"""Read what mixture inference needs from a BPE tokenizer file: its ordered merge list and its exact
pre-tokenization (text -> words written in the merge list's alphabet).

Inputs: an HF ``tokenizer.json`` (BPE model; normalizer and pre-tokenizer run by the ``tokenizers``
library itself), a ``merges.txt`` (GPT-2 byte-level pre-tokenization) and a tiktoken ``.tiktoken``
rank file (its regex pattern from the known-encodings table; merges recovered from the ranks).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tokkit.errors import InputError, UnsupportedFormatError

#: SentencePiece's word-boundary mark, written by Metaspace normalizers and pre-tokenizers
METASPACE = "\u2581"


@dataclass(frozen=True)
class BpeSource:
    """An ordered merge list and the pre-tokenizer that produced the words it was learned on.

    Words and merge parts are ``str`` in one alphabet: the byte-level alphabet for HF byte-level files,
    one ``latin-1`` character per byte for tiktoken files, plain characters for SentencePiece ones.
    """

    merges: list[tuple[str, str]]
    pretokenize: Callable[[str], list[str]]
    end_of_word_suffix: str
    description: str
    duplicates_removed: int = 0


def load_bpe_source(path: str | Path) -> BpeSource:
    """Merge list and pre-tokenizer of a tokenizer file, or a one-line error if it has no BPE merges."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"no such tokenizer file: {path}")
    if file.suffix == ".tiktoken":
        from tokkit.analysis.mixture.tiktoken_source import load_tiktoken_source

        return load_tiktoken_source(file)
    if file.suffix == ".json":
        return _load_hf_json(file)
    if file.suffix == ".txt":
        return _load_merges_txt(file)
    raise UnsupportedFormatError(
        f"{path}: not a BPE tokenizer file tokkit can read for mixture inference "
        "(use an HF tokenizer.json, a merges.txt or a .tiktoken rank file)"
    )


def _load_hf_json(file: Path) -> BpeSource:
    from tokenizers import Tokenizer

    try:
        config = json.loads(file.read_text(encoding="utf-8"))
        tokenizer = Tokenizer.from_file(str(file))
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{file}: not a readable HF tokenizer.json ({str(exc).splitlines()[0]})") from None
    model = config.get("model") or {}
    kind = model.get("type")
    if kind != "BPE":
        raise UnsupportedFormatError(
            f"{file}: a {kind or 'model-less'} tokenizer has no merge list; mixture inference needs a BPE tokenizer"
        )
    if model.get("continuing_subword_prefix"):
        raise UnsupportedFormatError(f"{file}: BPE with a continuing-subword prefix is not supported")
    merges = [_parse_merge(m, file) for m in model.get("merges") or []]
    if not merges:
        raise UnsupportedFormatError(f"{file}: the BPE model has no merges to analyse")
    merges, removed = dedupe_merges(merges)
    normalizer, pre_tokenizer = tokenizer.normalizer, tokenizer.pre_tokenizer

    def pretokenize(text: str) -> list[str]:
        if normalizer is not None:
            text = normalizer.normalize_str(text)
        if pre_tokenizer is not None:
            return [piece for piece, _ in pre_tokenizer.pre_tokenize_str(text)]
        return _split_metaspace(text)

    if pre_tokenizer is None and not _normalizer_writes_metaspace(config.get("normalizer")):
        raise UnsupportedFormatError(
            f"{file}: the tokenizer has no pre-tokenizer, so its training words are unknown; "
            "mixture inference needs word boundaries"
        )
    return BpeSource(merges, pretokenize, model.get("end_of_word_suffix") or "", f"HF BPE {file.name}", removed)


def _parse_merge(entry: object, file: Path) -> tuple[str, str]:
    if isinstance(entry, str):
        left, sep, right = entry.partition(" ")
        if sep and left and right:
            return left, right
    elif isinstance(entry, list) and len(entry) == 2 and all(isinstance(e, str) for e in entry):
        return entry[0], entry[1]
    raise InputError(f"{file}: malformed merge entry {entry!r}")


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


def _load_merges_txt(file: Path) -> BpeSource:
    from tokenizers.pre_tokenizers import ByteLevel

    merges: list[tuple[str, str]] = []
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{file}: cannot read merges ({exc})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip() or (number == 1 and line.startswith("#version")):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not all(parts):
            raise InputError(f"{file}:{number}: a merges.txt line holds two space-separated tokens, got {line!r}")
        merges.append((parts[0], parts[1]))
    if not merges:
        raise UnsupportedFormatError(f"{file}: no merges in the file")
    merges, removed = dedupe_merges(merges)
    byte_level = ByteLevel(add_prefix_space=False, use_regex=True)

    def pretokenize(text: str) -> list[str]:
        return [piece for piece, _ in byte_level.pre_tokenize_str(text)]

    return BpeSource(merges, pretokenize, "", f"merges.txt {file.name} (GPT-2 byte-level pre-tokenization)", removed)


def dedupe_merges(merges: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], int]:
    """Keep one merge per resulting token.

    Files converted from SentencePiece or tiktoken list every split (a, b) of a token whose parts are
    both in the vocabulary; training created the token once. The kept split is the one BPE itself
    produces: encoding the token with the merges kept before it must leave exactly these two parts.
    Returns the merges in order of first appearance of each product, and how many were dropped.
    """
    products: dict[str, list[tuple[str, str]]] = {}
    for left, right in merges:
        products.setdefault(left + right, []).append((left, right))
    if len(products) == len(merges):
        return merges, 0
    ranks: dict[tuple[str, str], int] = {}
    kept: list[tuple[str, str]] = []
    for product, splits in products.items():
        choice = splits[0]
        if len(splits) > 1:
            parts = encode_with_ranks(list(product), ranks)
            if len(parts) == 2 and tuple(parts) in {tuple(s) for s in splits}:
                choice = (parts[0], parts[1])
        ranks[choice] = len(kept)
        kept.append(choice)
    return kept, len(merges) - len(kept)


def encode_with_ranks(parts: list[str], ranks: dict[tuple[str, str], int]) -> list[str]:
    """BPE-encode a symbol list by repeatedly merging its lowest-ranked adjacent pair (in place)."""
    while len(parts) > 1:
        best, where = None, -1
        for i in range(len(parts) - 1):
            rank = ranks.get((parts[i], parts[i + 1]))
            if rank is not None and (best is None or rank < best):
                best, where = rank, i
        if best is None:
            break
        parts[where : where + 2] = [parts[where] + parts[where + 1]]
    return parts
