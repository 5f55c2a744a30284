"""Bit packing: exact round trips, exact sizes, the documented bit order, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokkit.core.bitpack import _CHUNK, bits_for, pack_bits, unpack_bits


def test_bits_for() -> None:
    assert [bits_for(k) for k in (1, 2, 3, 4, 5, 1000, 1024, 1025, 2**40)] == [1, 1, 2, 2, 3, 10, 10, 11, 40]
    with pytest.raises(ValueError, match="at least one code"):
        bits_for(0)


@settings(max_examples=60, deadline=None)
@given(bits=st.integers(1, 63), data=st.data())
def test_round_trip_any_width(bits: int, data: st.DataObject) -> None:
    values = data.draw(st.lists(st.integers(0, 2**bits - 1), max_size=200))
    codes = np.array(values, dtype=np.uint64).astype(np.int64) if bits == 63 else np.array(values, dtype=np.int64)
    payload = pack_bits(codes, bits)
    assert len(payload) == (len(values) * bits + 7) // 8
    np.testing.assert_array_equal(unpack_bits(payload, bits, len(values)), codes)


def test_bit_order_is_little_endian() -> None:
    assert pack_bits(np.array([1, 0, 3]), 2) == bytes([0b110001])
    assert pack_bits(np.array([0x1FF]), 9) == bytes([0xFF, 0x01])


def test_round_trip_across_chunk_boundaries_and_shapes() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 1000, size=_CHUNK + 12345)
    payload = pack_bits(codes, 10)
    assert len(payload) == (codes.size * 10 + 7) // 8
    np.testing.assert_array_equal(unpack_bits(payload, 10, codes.size), codes)
    grid = rng.integers(0, 8, size=(3, 5, 7))
    np.testing.assert_array_equal(unpack_bits(pack_bits(grid, 3), 3, grid.size).reshape(grid.shape), grid)


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"\[0, 2\*\*3\)"):
        pack_bits(np.array([8]), 3)
    with pytest.raises(ValueError, match=r"\[0, 2\*\*3\)"):
        pack_bits(np.array([-1]), 3)
    with pytest.raises(ValueError, match="bits must be"):
        pack_bits(np.array([1]), 0)
    with pytest.raises(ValueError, match="bytes"):
        unpack_bits(b"\x00", 4, 3)
