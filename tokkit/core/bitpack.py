"""Vectorized bit packing (in core: the token container needs it): integer codes in [0, K) stored with ceil(log2 K) bits each.

The stream is little-endian at both levels (bit 0 of code 0 is bit 0 of byte 0), so a file's
payload size is exactly ceil(n * bits / 8) bytes: its bitrate.
"""

from __future__ import annotations

import numpy as np

_CHUNK = 1 << 20  # codes per slice; a multiple of 8, so every slice starts on a byte boundary


def bits_for(cardinality: int) -> int:
    """Bits needed for codes in [0, cardinality): ceil(log2 K), at least 1."""
    if cardinality < 1:
        raise ValueError(f"a codebook needs at least one code, got size {cardinality}")
    return max(1, int(cardinality - 1).bit_length())


def pack_bits(codes: np.ndarray, bits: int) -> bytes:
    """Pack non-negative integer ``codes`` (any shape, read flat) into ``bits`` bits each."""
    if not 1 <= bits <= 63:
        raise ValueError(f"bits must be in 1..63, got {bits}")
    flat = np.ascontiguousarray(codes).reshape(-1)
    if flat.size and (flat.min() < 0 or int(flat.max()) >> bits):
        raise ValueError(f"codes must lie in [0, 2**{bits}) to be packed with {bits} bits")
    flat = flat.astype(np.uint64, copy=False)
    shifts = np.arange(bits, dtype=np.uint64)
    parts = []
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start : start + _CHUNK]
        bit_matrix = ((chunk[:, None] >> shifts) & np.uint64(1)).astype(np.uint8)
        parts.append(np.packbits(bit_matrix.reshape(-1), bitorder="little"))
    return b"".join(p.tobytes() for p in parts)


def unpack_bits(data: bytes | memoryview, bits: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: ``count`` codes as an int64 array."""
    if not 1 <= bits <= 63:
        raise ValueError(f"bits must be in 1..63, got {bits}")
    need = (count * bits + 7) // 8
    if len(data) < need:
        raise ValueError(f"payload holds {len(data)} bytes, {need} are needed for {count} codes")
    raw = np.frombuffer(data, dtype=np.uint8, count=need)
    weights = np.left_shift(np.uint64(1), np.arange(bits, dtype=np.uint64))
    out = np.empty(count, dtype=np.int64)
    bytes_per_chunk = _CHUNK * bits // 8
    for index, start in enumerate(range(0, count, _CHUNK)):
        n = min(_CHUNK, count - start)
        chunk_bytes = raw[index * bytes_per_chunk : index * bytes_per_chunk + (n * bits + 7) // 8]
        bit_matrix = np.unpackbits(chunk_bytes, count=n * bits, bitorder="little").reshape(n, bits)
        out[start : start + n] = (bit_matrix.astype(np.uint64) @ weights).astype(np.int64)
    return out
