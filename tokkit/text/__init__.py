"""Text tokenizers (exact BPE of HF tokenizer.json and tiktoken files, on the fastest exact engine) and the
analyses built on them; names load on first use to keep imports cheap."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "BPETokenizer": "tokkit.text.bpe",
    "ByteLM": "tokkit.text.bytelm",
    "ByteEnsemble": "tokkit.text.bytelm",
    "dynamic_merge": "tokkit.text.dynamic_merge",
    "fvt_embeddings": "tokkit.text.dynamic_merge",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tokkit.text' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
