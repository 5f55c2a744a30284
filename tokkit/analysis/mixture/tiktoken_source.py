"""A ``.tiktoken`` rank file as a mixture-inference source: merges recovered from the ranks, words cut
by the encoding's regex (known encodings only, recognized by sha256), bytes written one latin-1
character per byte so words and merges share one alphabet."""

from __future__ import annotations

from pathlib import Path

from tokkit.analysis.mixture.bpe_source import BpeSource
from tokkit.errors import UnsupportedFormatError
from tokkit.text.tiktoken_files import file_sha256, known_encoding, merges_from_ranks, read_tiktoken_ranks


def load_tiktoken_source(file: Path) -> BpeSource:
    """Merge list and pre-tokenizer of a well-known ``.tiktoken`` rank file."""
    import regex

    spec = known_encoding(file_sha256(file))
    if spec is None:
        raise UnsupportedFormatError(
            f"{file}: not a known tiktoken encoding (cl100k_base, o200k_base, p50k_base, r50k_base), so its "
            "pre-tokenizer regex is unknown; convert it to an HF tokenizer.json with its pattern"
        )
    ranks = read_tiktoken_ranks(file)
    merges = [(a.decode("latin-1"), b.decode("latin-1")) for a, b in merges_from_ranks(ranks)]
    pattern = regex.compile(spec.pattern)

    def pretokenize(text: str) -> list[str]:
        return [piece.encode("utf-8").decode("latin-1") for piece in pattern.findall(text)]

    return BpeSource(merges, pretokenize, "", f"tiktoken {spec.name}")
