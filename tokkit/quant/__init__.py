"""Shared quantization kernels: exact nearest-code search, VQ, RVQ, FSQ, LFQ, prefix truncation and
bit packing. Names load lazily so ``import tokkit`` (which packs bits) never imports torch."""

from __future__ import annotations

import importlib
from typing import Any

# Imported eagerly because the function shares its module's name (both are torch-free at import).
from tokkit.quant.kmeans import kmeans as kmeans
from tokkit.quant.nearest import nearest as nearest

_EXPORTS = {
    "VQ": "tokkit.quant.vq",
    "VQConfig": "tokkit.quant.vq",
    "RVQ": "tokkit.quant.rvq",
    "RVQConfig": "tokkit.quant.rvq",
    "FSQ": "tokkit.quant.fsq",
    "FSQConfig": "tokkit.quant.fsq",
    "LFQ": "tokkit.quant.lfq",
    "LFQConfig": "tokkit.quant.lfq",
    "QuantizerOutput": "tokkit.quant.output",
    "straight_through": "tokkit.quant.gradients",
    "rotation_trick": "tokkit.quant.gradients",
    "drop_tail": "tokkit.quant.truncation",
    "prefix_mask": "tokkit.quant.truncation",
    "sample_keep_lengths": "tokkit.quant.truncation",
    "pack_bits": "tokkit.core.bitpack",
    "unpack_bits": "tokkit.core.bitpack",
    "bits_for": "tokkit.core.bitpack",
}

__all__ = [
    "FSQ",
    "LFQ",
    "RVQ",
    "VQ",
    "FSQConfig",
    "LFQConfig",
    "QuantizerOutput",
    "RVQConfig",
    "VQConfig",
    "bits_for",
    "drop_tail",
    "kmeans",
    "nearest",
    "pack_bits",
    "prefix_mask",
    "rotation_trick",
    "sample_keep_lengths",
    "straight_through",
    "unpack_bits",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tokkit.quant' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
