"""GPT-2's byte-level alphabet: every byte has a printable stand-in character in HF vocabularies.

HF byte-level tokenizers store token ``b"\\n hi"`` as the string ``"ĊĠhi"``; these tables convert
between the two so that tokkit works in bytes throughout.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def byte_to_char() -> tuple[str, ...]:
    """Stand-in character of each byte 0..255: printable Latin-1 bytes map to themselves, the rest to U+0100 up."""
    printable = set(range(ord("!"), ord("~") + 1)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    chars = []
    next_free = 0x100
    for byte in range(256):
        if byte in printable:
            chars.append(chr(byte))
        else:
            chars.append(chr(next_free))
            next_free += 1
    return tuple(chars)


@lru_cache(maxsize=1)
def byte_to_char_set() -> frozenset[str]:
    """The 256 stand-in characters, for membership tests."""
    return frozenset(byte_to_char())


@lru_cache(maxsize=1)
def char_to_byte() -> dict[str, int]:
    """Inverse of :func:`byte_to_char`."""
    return {char: byte for byte, char in enumerate(byte_to_char())}


@lru_cache(maxsize=1)
def _translation() -> dict[int, int]:
    """str.translate table: alphabet characters to the code point of their byte, the rest out of Latin-1."""
    table = {code: 0xFFFF for code in range(256)}
    table.update({ord(char): byte for char, byte in char_to_byte().items()})
    return table


def chars_to_bytes(token: str) -> bytes:
    """Bytes of a byte-level vocabulary entry; KeyError if it holds a character outside the alphabet."""
    try:
        return token.translate(_translation()).encode("latin-1")
    except UnicodeEncodeError:
        raise KeyError(token) from None


def bytes_to_chars(data: bytes) -> str:
    """The byte-level vocabulary spelling of ``data``."""
    table = byte_to_char()
    return "".join(table[byte] for byte in data)


@lru_cache(maxsize=1)
def _latin1_to_chars() -> dict[int, str]:
    return {byte: char for byte, char in enumerate(byte_to_char())}


def utf8_to_chars(text: str) -> str:
    """The byte-level vocabulary spelling of ``text``'s UTF-8 bytes (fast :func:`bytes_to_chars` for text)."""
    return text.encode("utf-8").decode("latin-1").translate(_latin1_to_chars())
