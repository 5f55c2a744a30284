"""The token file: one versioned container for the tokens of every modality.

Layout (all integers little-endian)::

    offset  size  field
    0       6     magic b"TOKKIT"
    6       1     format version (1)
    7       1     reserved (0)
    8       4     header length H in bytes
    12      8     payload length P in bytes
    20      4     CRC-32 of header + payload
    24      H     header: UTF-8 JSON {"version", "tokenizer", "modality", "single", "items": [...]}
    24+H    P     payload: each item's codes bit-packed to ceil(log2 codebook_size) bits, items
                  concatenated in order, each starting on a byte boundary

Each header item is {"shape": [...], "bits": b, "meta": {...}}; the item's payload length is
ceil(prod(shape) * b / 8). The payload is thus the bitrate; the header is a few dozen bytes per item.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Sequence


from tokkit.core.atomic import atomic_write_bytes
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError, TokenFileError
from tokkit.core.bitpack import bits_for, pack_bits, unpack_bits

MAGIC = b"TOKKIT"
VERSION = 1
_FIXED = struct.Struct("<6sBBIQI")
_SHARED_KEYS = ("tokenizer", "modality")


def _item_nbytes(shape: Sequence[int], bits: int) -> int:
    return (math.prod(shape) * bits + 7) // 8


def encode_container(tokens: Tokens | Sequence[Tokens]) -> bytes:
    """The bytes of a token file holding ``tokens`` (one item or a list of items)."""
    single = isinstance(tokens, Tokens)
    items = [tokens] if single else list(tokens)
    if not items:
        raise InputError("no tokens to save: the list is empty")
    shared = {key: items[0].meta.get(key) for key in _SHARED_KEYS}
    header_items, payload_parts = [], []
    for index, item in enumerate(items):
        if not isinstance(item, Tokens):
            raise TypeError(f"item {index} is a {type(item).__name__}, not Tokens")
        for key in _SHARED_KEYS:
            if item.meta.get(key) != shared[key]:
                raise InputError(f"item {index} has another {key} than item 0: one token file holds one tokenizer's tokens")
        codes = item.codes
        size = item.codebook_size
        if codes.size and (codes.min() < 0 or codes.max() >= size):
            raise InputError(f"item {index} has codes outside [0, {size})")
        bits = bits_for(size)
        meta = {k: v for k, v in item.meta.items() if k not in _SHARED_KEYS}
        meta["codebook_size"] = size
        header_items.append({"shape": list(codes.shape), "bits": bits, "meta": meta})
        payload_parts.append(pack_bits(codes, bits))
    header = {"version": VERSION, **shared, "single": single, "items": header_items}
    header_bytes = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    payload = b"".join(payload_parts)
    crc = zlib.crc32(payload, zlib.crc32(header_bytes))
    return _FIXED.pack(MAGIC, VERSION, 0, len(header_bytes), len(payload), crc) + header_bytes + payload


def decode_container(data: bytes, source: str = "token file") -> tuple[dict, list[Tokens]]:
    """Parse token-file bytes into (header, items); raise TokenFileError on any damage."""
    if len(data) < _FIXED.size or data[:6] != MAGIC:
        raise TokenFileError(f"{source} is not a tokkit token file (bad magic)")
    magic, version, _, header_len, payload_len, crc = _FIXED.unpack_from(data)
    if version != VERSION:
        raise TokenFileError(f"{source} has token-file version {version}; this tokkit reads version {VERSION}")
    end = _FIXED.size + header_len + payload_len
    if len(data) < end:
        raise TokenFileError(f"{source} is truncated: {len(data)} bytes, the header announces {end}")
    if len(data) > end:
        raise TokenFileError(f"{source} has {len(data) - end} unexpected trailing bytes")
    header_bytes = data[_FIXED.size : _FIXED.size + header_len]
    payload = memoryview(data)[_FIXED.size + header_len : end]
    if zlib.crc32(payload, zlib.crc32(header_bytes)) != crc:
        raise TokenFileError(f"{source} is corrupted (checksum mismatch)")
    try:
        header = json.loads(header_bytes.decode("utf-8"))
        offset, items = 0, []
        for entry in header["items"]:
            shape, bits = [int(n) for n in entry["shape"]], int(entry["bits"])
            nbytes = _item_nbytes(shape, bits)
            codes = unpack_bits(payload[offset : offset + nbytes], bits, math.prod(shape)).reshape(shape)
            meta = {key: header[key] for key in _SHARED_KEYS if header.get(key) is not None}
            meta.update(entry["meta"])
            items.append(Tokens(codes, meta))
            offset += nbytes
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise TokenFileError(f"{source} has a malformed header: {exc}") from None
    if offset != payload_len:
        raise TokenFileError(f"{source}: payload is {payload_len} bytes, its items need {offset}")
    return header, items


def save_tokens(path: str | os.PathLike, tokens: Tokens | Sequence[Tokens]) -> Path:
    """Write ``tokens`` (one item or a list) to a token file at ``path``, atomically."""
    path = Path(path)
    atomic_write_bytes(path, encode_container(tokens))
    return path


def read_container(path: str | os.PathLike) -> tuple[dict, list[Tokens]]:
    """Header and items of the token file at ``path``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"no such token file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a token file") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    return decode_container(data, str(path))


def load_tokens(path: str | os.PathLike) -> Tokens | list[Tokens]:
    """Read a token file: a Tokens if one item was saved, else the list of items."""
    header, items = read_container(path)
    return items[0] if header.get("single") and len(items) == 1 else items
