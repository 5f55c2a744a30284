"""The token container: round trips, size = bitrate, and clear errors for every kind of damage."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tokkit
from tokkit.core.container import decode_container, encode_container
from tokkit.errors import InputError, TokenFileError

IDENTITY = {"name": "t", "kind": "k", "hash": "0123456789abcdef"}


def make_tokens(codes, size, **meta) -> tokkit.Tokens:
    return tokkit.Tokens(np.asarray(codes, dtype=np.int64),
                         {"modality": "text", "tokenizer": IDENTITY, "codebook_size": size, **meta})


@given(st.integers(1, 1 << 20), st.lists(st.integers(0, 10**9), max_size=300), st.integers(1, 3))
@settings(max_examples=60, deadline=None)
def test_round_trip_any_codebook_and_shape(size, raw, rows):
    codes = np.array([v % size for v in raw] * rows, dtype=np.int64).reshape(rows, -1)
    tokens = make_tokens(codes, size, sample_rate=24000)
    header, items = decode_container(encode_container(tokens))
    assert items == [tokens]
    assert header["single"] is True


def test_payload_is_the_bitrate():
    codes = np.arange(1000) % 4096
    data = encode_container(make_tokens(codes, 4096))
    header_len = struct.unpack_from("<I", data, 8)[0]
    assert len(data) - 24 - header_len == 1000 * 12 // 8


def test_save_and_load_lists_and_single(tmp_path):
    one = make_tokens([1, 2, 3], 10)
    many = [make_tokens([1], 10), make_tokens([], 10), make_tokens([9, 0], 10)]
    tokkit.save_tokens(tmp_path / "one.tok", one)
    tokkit.save_tokens(tmp_path / "many.tok", many)
    assert tokkit.load_tokens(tmp_path / "one.tok") == one
    assert tokkit.load_tokens(tmp_path / "many.tok") == many
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many.tok", "one.tok"]  # no temp files left


def test_truncated_file_is_refused():
    data = encode_container(make_tokens(np.arange(100), 128))
    for cut in (3, 20, len(data) - 1):
        with pytest.raises(TokenFileError, match="truncated|not a tokkit"):
            decode_container(data[:cut])


@pytest.mark.parametrize("position", [30, -1])
def test_flipped_bit_is_detected(position):
    data = bytearray(encode_container(make_tokens(np.arange(100), 128)))
    data[position] ^= 0x10
    with pytest.raises(TokenFileError, match="corrupted"):
        decode_container(bytes(data))


def test_unknown_version_and_bad_magic():
    data = bytearray(encode_container(make_tokens([1], 2)))
    with pytest.raises(TokenFileError, match="bad magic"):
        decode_container(b"NOTTOK" + bytes(data[6:]))
    data[6] = 99
    with pytest.raises(TokenFileError, match="version 99"):
        decode_container(bytes(data))


def test_malformed_header_with_valid_checksum():
    header = b'{"items": [{"shape": "x"}]}'
    crc = zlib.crc32(b"", zlib.crc32(header))
    data = struct.pack("<6sBBIQI", b"TOKKIT", 1, 0, len(header), 0, crc) + header
    with pytest.raises(TokenFileError, match="malformed"):
        decode_container(data)


def test_codes_outside_codebook_and_mixed_tokenizers_are_refused():
    with pytest.raises(InputError, match="outside"):
        encode_container(make_tokens([5], 4))
    other = tokkit.Tokens(np.array([1]), {"modality": "text", "tokenizer": {**IDENTITY, "hash": "x"}, "codebook_size": 4})
    with pytest.raises(InputError, match="one tokenizer"):
        encode_container([make_tokens([1], 4), other])
    with pytest.raises(InputError, match="empty"):
        encode_container([])


def test_missing_and_directory_token_files(tmp_path):
    with pytest.raises(InputError, match="no such token file"):
        tokkit.load_tokens(tmp_path / "absent.tok")
    with pytest.raises(InputError, match="directory"):
        tokkit.load_tokens(tmp_path)


def test_written_files_get_the_usual_permissions(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        tokkit.save_tokens(tmp_path / "p.tok", make_tokens([1], 2))
    finally:
        os.umask(mask)
    assert (tmp_path / "p.tok").stat().st_mode & 0o777 == 0o644
