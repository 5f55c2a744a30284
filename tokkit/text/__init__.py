"""Text tokenizers (exact BPE of HF tokenizer.json and tiktoken files, on the fastest exact engine) and the
analyses built on them; names load on first use to keep imports cheap."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tokkit.core.tokens import register_expansion

if TYPE_CHECKING:  # the lazy names below, for IDEs and type checkers
    from tokkit.text.bpe import BPETokenizer as BPETokenizer
    from tokkit.text.bytelm import ByteEnsemble as ByteEnsemble
    from tokkit.text.bytelm import ByteLM as ByteLM
    from tokkit.text.dynamic_merge import dynamic_merge as dynamic_merge
    from tokkit.text.dynamic_merge import fvt_embeddings as fvt_embeddings

# token files written with dynamic merges (``tokkit encode --dynamic-merges``) decode through this
register_expansion("dynamic_merges", "tokkit.text.dynamic_merge:unmerge_tokens")

_LAZY = {
    "BPETokenizer": "tokkit.text.bpe",
    "ByteLM": "tokkit.text.bytelm",
    "ByteEnsemble": "tokkit.text.bytelm",
    "dynamic_merge": "tokkit.text.dynamic_merge",
    "fvt_embeddings": "tokkit.text.dynamic_merge",
}


__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tokkit.text' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
