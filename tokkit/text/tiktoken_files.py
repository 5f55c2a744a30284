"""tiktoken ``.tiktoken`` rank files: reading them, recognizing the well-known ones, recovering merges.

A rank file holds one ``base64(token bytes) rank`` pair per line and nothing else: the pre-tokenizer
pattern and the special tokens live in tiktoken's code. The well-known files are recognized by their
sha256 so that loading one encodes exactly as tiktoken's encoding of that name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from tokkit.errors import InputError

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"

#: GPT-2's pre-tokenizer (r50k_base, p50k_base), in the possessive form tiktoken uses
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
O200K_PATTERN = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""",
    r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
    r"""\s*[\r\n]+""",
    r"""\s+(?!\S)""",
    r"""\s+""",
])


@dataclass(frozen=True)
class TiktokenSpec:
    """What a rank file does not say: the encoding's name, pre-tokenizer regex and special tokens."""

    name: str
    pattern: str
    special_tokens: dict[str, int] = field(default_factory=dict)


#: sha256 of a well-known rank file -> its encoding (facts from OpenAI's published encodings)
KNOWN_ENCODINGS: dict[str, TiktokenSpec] = {
    "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930":
        TiktokenSpec("r50k_base", GPT2_PATTERN, {ENDOFTEXT: 50256}),
    "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069":
        TiktokenSpec("p50k_base", GPT2_PATTERN, {ENDOFTEXT: 50256}),
    "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7":
        TiktokenSpec("cl100k_base", CL100K_PATTERN, {ENDOFTEXT: 100257, FIM_PREFIX: 100258, FIM_MIDDLE: 100259,
                                                      FIM_SUFFIX: 100260, ENDOFPROMPT: 100276}),
    "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d":
        TiktokenSpec("o200k_base", O200K_PATTERN, {ENDOFTEXT: 199999, ENDOFPROMPT: 200018}),
}


#: ids (ranks) must lie below this; a vocabulary may have holes, but not more holes than tokens
MAX_TOKEN_ID = 1 << 24
_HOLE_ALLOWANCE = 1 << 16


def check_id_range(ids: list[int], source: str) -> int:
    """The table size ``max(ids) + 1`` for a vocabulary, refusing ids that are not integers, negative, at
    least MAX_TOKEN_ID, or so sparse that the table would dwarf the file (before any table is allocated)."""
    for index in ids:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < MAX_TOKEN_ID:
            raise InputError(f"{source} has token id {str(index)[:40]}; ids must be integers from 0 to {MAX_TOKEN_ID - 1}")
    size = max(ids, default=-1) + 1
    if size > 2 * len(ids) + _HOLE_ALLOWANCE:
        raise InputError(f"{source} has {len(ids)} tokens but ids up to {size - 1}: too sparse to be a vocabulary; "
                         f"the file is damaged")
    return size


def known_encoding(sha256: str) -> TiktokenSpec | None:
    """The well-known encoding whose rank file has this sha256 (hex), or None."""
    return KNOWN_ENCODINGS.get(sha256.lower())


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def parse_tiktoken_ranks(data: bytes, source: str = "the rank file") -> dict[bytes, int]:
    """Parse the text of a rank file; every malformed line is reported with its number."""
    ranks: dict[bytes, int] = {}
    seen_ranks: set[int] = set()
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            raise InputError(f"{source}, line {number}: expected 'base64-token rank', got {line[:60]!r}")
        try:
            token = base64.b64decode(fields[0], validate=True)
            rank = int(fields[1])
        except (binascii.Error, ValueError):
            raise InputError(f"{source}, line {number}: {line[:60]!r} is not 'base64-token rank'") from None
        if token in ranks:
            raise InputError(f"{source}, line {number}: token {token!r} appears twice")
        if rank in seen_ranks or rank < 0:
            raise InputError(f"{source}, line {number}: rank {rank} is negative or appears twice")
        ranks[token] = rank
        seen_ranks.add(rank)
    if not ranks:
        raise InputError(f"{source} holds no ranks: it is empty or not a .tiktoken file")
    check_id_range(list(ranks.values()), source)
    return ranks


def read_tiktoken_ranks(path: str | os.PathLike) -> dict[bytes, int]:
    """Token bytes -> rank from a ``.tiktoken`` file, with a clear error for a bad file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_tiktoken_ranks(data, str(path))


def byte_pair_split(ranks: dict[bytes, int], token: bytes, max_rank: int = 1 << 62) -> list[bytes]:
    """Byte-pair-merge ``token`` using only ranks below ``max_rank`` (tiktoken's algorithm)."""
    parts = [token[i:i + 1] for i in range(len(token))]
    while len(parts) > 1:
        best_index, best_rank = -1, max_rank
        for index in range(len(parts) - 1):
            rank = ranks.get(parts[index] + parts[index + 1])
            if rank is not None and rank < best_rank:
                best_index, best_rank = index, rank
        if best_index < 0:
            break
        parts[best_index:best_index + 2] = [parts[best_index] + parts[best_index + 1]]
    return parts


def merges_from_ranks(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """The merge list, in rank order, that rebuilds the multi-byte tokens of a rank table.

    Each token's merge is the last step of tiktoken's algorithm run on the token's own bytes with the
    lower-ranked tokens only. A token that this cannot build (Llama 3 has a few) is never produced by
    merging, only by whole-piece lookup, so it has no merge and is left out.
    """
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) < 2:
            continue
        parts = byte_pair_split(ranks, token, rank)
        if len(parts) == 2:
            merges.append((parts[0], parts[1]))
    return merges


def format_tiktoken_ranks(ranks: dict[bytes, int]) -> bytes:
    """The ``.tiktoken`` file text of a rank table, in rank order."""
    return b"".join(base64.b64encode(token) + b" %d\n" % rank
                    for token, rank in sorted(ranks.items(), key=lambda item: item[1]))
