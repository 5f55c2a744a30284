"""One flat record per encoded item, shared by TokenizeFn, the shard files and the shard reader.

A record is plain data any tool reads: ``codes`` (the item's codes flattened in C order),
``shape`` (their shape: text ``[T]``, RVQ audio ``[Q, T]``) and ``meta`` (the item's own metadata
as JSON, without the keys every item of a tokenizer shares, which live once per shard).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from tokkit.core.tokens import Tokens

#: metadata keys identical for every item of one tokenizer; stored once per shard, not per row
SHARED_META_KEYS = ("tokenizer", "modality", "codebook_size")


def code_dtype(codebook_size: int) -> np.dtype:
    """The integer type codes are stored as: int32 whenever the codebook fits, else int64."""
    return np.dtype(np.int32) if codebook_size <= 2**31 else np.dtype(np.int64)


def item_meta_json(meta: dict[str, Any]) -> str:
    """An item's own metadata as canonical JSON (sorted keys, no spaces): equal meta, equal bytes."""
    own = {key: value for key, value in meta.items() if key not in SHARED_META_KEYS}
    return json.dumps(own, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def to_record(tokens: Tokens) -> dict[str, Any]:
    """The record of one item: flat codes, shape and own metadata."""
    dtype = code_dtype(tokens.codebook_size)
    return {
        "codes": np.ascontiguousarray(tokens.codes, dtype=dtype).reshape(-1),
        "shape": np.asarray(tokens.codes.shape, dtype=np.int32),
        "meta": item_meta_json(tokens.meta),
    }


def from_record(codes: Any, shape: Any, meta: str | dict, shared: dict[str, Any]) -> Tokens:
    """Rebuild Tokens from a record's columns and the shard's shared metadata."""
    own = json.loads(meta) if isinstance(meta, str) else dict(meta)
    array = np.asarray(codes, dtype=np.int64).reshape([int(n) for n in shape])
    return Tokens(array, {**shared, **own})
