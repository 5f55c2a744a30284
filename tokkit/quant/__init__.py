"""Shared quantization kernels: exact nearest-code search, VQ, RVQ, FSQ, LFQ, prefix truncation and
bit packing. Names load lazily so ``import tokkit`` (which packs bits) never imports torch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokkit.core.lazy import lazy_exports

# Imported eagerly because the function shares its module's name (both are torch-free at import).
from tokkit.quant.kmeans import kmeans as kmeans
from tokkit.quant.nearest import nearest as nearest

if TYPE_CHECKING:  # the lazy names below, for IDEs and type checkers
    from tokkit.core.bitpack import bits_for as bits_for
    from tokkit.core.bitpack import pack_bits as pack_bits
    from tokkit.core.bitpack import unpack_bits as unpack_bits
    from tokkit.quant.fsq import FSQ as FSQ
    from tokkit.quant.fsq import FSQConfig as FSQConfig
    from tokkit.quant.gradients import rotation_trick as rotation_trick
    from tokkit.quant.gradients import straight_through as straight_through
    from tokkit.quant.lfq import LFQ as LFQ
    from tokkit.quant.lfq import LFQConfig as LFQConfig
    from tokkit.quant.output import QuantizerOutput as QuantizerOutput
    from tokkit.quant.rvq import RVQ as RVQ
    from tokkit.quant.rvq import RVQConfig as RVQConfig
    from tokkit.quant.truncation import drop_tail as drop_tail
    from tokkit.quant.truncation import prefix_mask as prefix_mask
    from tokkit.quant.truncation import sample_keep_lengths as sample_keep_lengths
    from tokkit.quant.vq import VQ as VQ
    from tokkit.quant.vq import VQConfig as VQConfig

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


__getattr__, __dir__ = lazy_exports("tokkit.quant", _EXPORTS, globals())
