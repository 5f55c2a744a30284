"""Write a tiktoken rank table as an HF tokenizer.json that encodes identically.

Every split of a token into two tokens becomes a merge, ordered by the merged token's rank (the
conversion Llama 3's published tokenizer.json uses), and whole pre-tokens found in the vocabulary
are taken as they are (``ignore_merges``), as tiktoken does.
"""

from __future__ import annotations

import re
from typing import Any

from tokkit.text.byte_alphabet import bytes_to_chars
from tokkit.text.merges import merges_from_ranks


def oniguruma_pattern(pattern: str) -> str:
    """The pattern for HF's regex engine: ``x{1,3}+`` is possessive in tiktoken's but a repeat in Oniguruma.

    Possessiveness only speeds matching up in the tiktoken patterns (it never changes a match there),
    so the counted repeat is written without it.
    """
    return re.sub(r"(\{\d+(?:,\d*)?\})\+", r"\1", pattern)


def tokenizer_json_from_ranks(ranks: dict[bytes, int], pattern: str,
                              special_tokens: dict[str, int]) -> dict[str, Any]:
    """An HF tokenizer.json (as a dict) for a byte-level BPE given by ranks, a regex and special tokens."""
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": index, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for content, index in sorted(special_tokens.items(), key=lambda item: item[1])
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": oniguruma_pattern(pattern)}, "behavior": "Isolated",
             "invert": False},
            byte_level,
        ]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
            # special tokens are in the vocabulary too: HF gives an added token that is not the next free
            # id after the vocabulary (cl100k's ids have holes) another id unless the model holds it
            "vocab": {**{bytes_to_chars(token): rank for token, rank in sorted(ranks.items(), key=lambda item: item[1])},
                      **special_tokens},
            "merges": [[bytes_to_chars(left), bytes_to_chars(right)] for left, right in merges_from_ranks(ranks, every_split=True)],
        },
    }
