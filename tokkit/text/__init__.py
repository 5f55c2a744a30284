"""Text tokenizers (exact BPE of HF tokenizer.json and tiktoken files, on the fastest exact engine) and the
analyses built on them; names load on first use to keep imports cheap."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokkit.core.lazy import lazy_exports

from tokkit.core.tokens import register_expansion

if TYPE_CHECKING:  # the lazy names below, for IDEs and type checkers
    from tokkit.text.bpe import BPETokenizer as BPETokenizer
    from tokkit.text.bytelm import ByteEnsemble as ByteEnsemble
    from tokkit.text.bytelm import ByteLM as ByteLM
    from tokkit.text.dynamic_merge import dynamic_merge as dynamic_merge
    from tokkit.text.dynamic_merge import fvt_embeddings as fvt_embeddings

# token files written with dynamic merges (``tokkit encode --dynamic-merges``) decode through this
register_expansion("dynamic_merges", "tokkit.text.dynamic_merge:unmerge_tokens",
                   check="tokkit.text.dynamic_merge:merged_table")

_LAZY = {
    "BPETokenizer": "tokkit.text.bpe",
    "ByteLM": "tokkit.text.bytelm",
    "ByteEnsemble": "tokkit.text.bytelm",
    "dynamic_merge": "tokkit.text.dynamic_merge",
    "fvt_embeddings": "tokkit.text.dynamic_merge",
}


__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports("tokkit.text", _LAZY, globals())
