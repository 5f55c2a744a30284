"""Tokens: the codes one tokenizer made for one item, plus the metadata needed to decode them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Tokens:
    """Integer ``codes`` (text: shape (T,); RVQ audio: (Q, T); image: (K,)) and their ``meta``.

    ``meta`` holds at least ``modality``, ``tokenizer`` (its identity: name and config hash) and
    ``codebook_size`` (codes lie in [0, codebook_size)); modalities add their own keys
    (sample_rate, n_samples, image size, ...). Everything in ``meta`` must be JSON-serializable.
    """

    codes: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        codes = np.asarray(self.codes)
        if codes.dtype.kind not in "iu":
            raise TypeError(f"token codes must be integers, got dtype {codes.dtype}")
        self.codes = codes

    def __len__(self) -> int:
        """Number of token positions (the last axis)."""
        return int(self.codes.shape[-1]) if self.codes.ndim else 1

    @property
    def modality(self) -> str:
        return str(self.meta.get("modality", "unknown"))

    @property
    def codebook_size(self) -> int:
        """Size of the code alphabet; codes lie in [0, codebook_size)."""
        if "codebook_size" in self.meta:
            return int(self.meta["codebook_size"])
        return int(self.codes.max()) + 1 if self.codes.size else 1

    def tolist(self) -> list:
        return self.codes.tolist()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tokens):
            return NotImplemented
        return np.array_equal(self.codes, other.codes) and self.meta == other.meta


#: meta key -> "module:function" turning Tokens that carry that key back into their tokenizer's own codes
#: (e.g. "dynamic_merges", registered by tokkit.text); packages register on import, lazily by name
EXPANSIONS: dict[str, str] = {}


def register_expansion(meta_key: str, target: str) -> None:
    """Make :func:`expand_tokens` undo a transform whose Tokens carry ``meta[meta_key]``; ``target`` is
    "module:function", imported only when such tokens are met."""
    EXPANSIONS[meta_key] = target


def expand_tokens(tokens: Tokens) -> Tokens:
    """``tokens`` with every registered transform in its meta undone (unchanged if none applies)."""
    import importlib

    for key, target in EXPANSIONS.items():
        if key in tokens.meta:
            module_name, _, attribute = target.partition(":")
            tokens = getattr(importlib.import_module(module_name), attribute)(tokens)
    return tokens
