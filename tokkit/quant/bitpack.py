"""Bit packing lives in :mod:`tokkit.core.bitpack` (the token container needs it below the quantizers);
this name stays for code that imports it from the quantization layer."""

from __future__ import annotations

from tokkit.core.bitpack import bits_for, pack_bits, unpack_bits

__all__ = ["bits_for", "pack_bits", "unpack_bits"]
