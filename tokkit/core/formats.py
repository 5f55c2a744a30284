"""What kind of input a file is: one table of input formats (suffixes and magic bytes) per modality.

This table is the one source of truth for two things: each tokenizer's ``input_suffixes`` (the
audio, image and text tokenizers take theirs from here) and the built-in tokenizer ``tokkit encode``
picks when the user names none. A file's magic bytes decide first, its suffix second; a file that
neither recognizes and that is not text (NUL bytes or not UTF-8) is never text-tokenized by default:
the user must name a text tokenizer (``-t text``) to encode its bytes.

Other modalities (video, 3D, ...) add theirs with :func:`register_format`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tokkit.errors import InputError

#: bytes read from the start of a file to recognize it
SNIFF_BYTES = 8192

Signature = Callable[[bytes], bool]


def _prefix(*magics: bytes) -> Signature:
    return lambda head: head.startswith(magics)


def _riff(form: bytes) -> Signature:
    return lambda head: head[:4] == b"RIFF" and head[8:12] == form


def _iso_brand(*brands: bytes) -> Signature:
    """ISO base media files (``ftyp`` box at offset 4) whose major brand is one of ``brands``."""
    return lambda head: head[4:8] == b"ftyp" and head[8:12] in brands


_NETPBM = re.compile(rb"P[1-7]\s+(?:#[^\n]*\n\s*)*\d+\s")
_OFF = re.compile(rb"(?:ST)?C?N?4?OFF\s")


def _bmp(head: bytes) -> bool:
    # "BM", file size, two reserved zero words, pixel-data offset inside the first few KB
    return len(head) >= 14 and head[:2] == b"BM" and head[6:10] == b"\0\0\0\0" \
        and 14 <= int.from_bytes(head[10:14], "little") < 1 << 16


def _mp3_frame(head: bytes) -> bool:
    # an MPEG audio frame header: 11 sync bits, a valid layer and bitrate index
    return len(head) >= 4 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06 != 0 \
        and head[2] & 0xF0 != 0xF0


@dataclass
class InputFormat:
    """Files one modality reads: lowercase ``suffixes`` (with the dot) and content ``signatures``."""

    modality: str
    suffixes: tuple[str, ...]
    signatures: list[Signature] = field(default_factory=list)


#: modality -> the input files its built-in tokenizer reads (text: anything that is UTF-8 text)
FORMATS: dict[str, InputFormat] = {
    "audio": InputFormat("audio", (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"), [
        _riff(b"WAVE"), _prefix(b"fLaC", b"OggS", b"ID3"), _mp3_frame, lambda head: head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"),
    ]),
    "image": InputFormat("image", (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".ppm",
                                   ".pgm", ".pbm", ".pnm", ".avif"), [
        _prefix(b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\0", b"MM\0*"),
        _riff(b"WEBP"), _iso_brand(b"avif", b"avis"), _bmp, lambda head: bool(_NETPBM.match(head)),
    ]),
    "video": InputFormat("video", (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".y4m"), [
        _iso_brand(b"isom", b"iso2", b"mp41", b"mp42", b"avc1", b"M4V ", b"qt  ", b"dash"), _riff(b"AVI "),
        _prefix(b"\x1a\x45\xdf\xa3", b"YUV4MPEG2"),
    ]),
    "shape": InputFormat("shape", (".obj", ".ply", ".stl", ".off", ".glb", ".gltf", ".xyz"), [
        _prefix(b"ply\n", b"ply\r", b"glTF"), lambda head: bool(_OFF.match(head)),
    ]),
    "text": InputFormat("text", (".txt", ".md", ".text")),
}


def register_format(modality: str, suffixes: tuple[str, ...], signatures: list[Signature] = ()) -> InputFormat:
    """Declare (or extend) the input files of ``modality``: suffixes and magic-byte tests."""
    entry = FORMATS.setdefault(modality, InputFormat(modality, ()))
    entry.suffixes = tuple(dict.fromkeys(entry.suffixes + tuple(s.lower() for s in suffixes)))
    entry.signatures.extend(signatures)
    return entry


def suffixes(modality: str) -> tuple[str, ...]:
    """The input suffixes of ``modality`` (what its tokenizers' ``input_suffixes`` say)."""
    entry = FORMATS.get(modality)
    return entry.suffixes if entry else ()


def looks_like_text(head: bytes, complete: bool) -> bool:
    """True if ``head`` (the start of a file, or all of it when ``complete``) is UTF-8 text without NULs."""
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        # a multi-byte character cut by the sniff window is still text
        return not complete and exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"


def modality_of_bytes(head: bytes, complete: bool = True) -> str | None:
    """The modality whose magic bytes ``head`` starts with; "text" for UTF-8 text; None for other binary data."""
    for entry in FORMATS.values():
        if any(signature(head) for signature in entry.signatures):
            return entry.modality
    return "text" if looks_like_text(head, complete) else None


def modality_by_suffix(path: str | os.PathLike) -> str | None:
    """The modality whose input suffixes include ``path``'s suffix, or None."""
    suffix = Path(os.fspath(path)).suffix.lower()
    for entry in FORMATS.values():
        if suffix in entry.suffixes:
            return entry.modality
    return None


def _animated_gif(path: str | os.PathLike) -> bool:
    """True for a GIF with more than one frame (Pillow walks the blocks to frame 1 without decoding)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return bool(getattr(image, "is_animated", False))
    except Exception:  # noqa: BLE001 - an unreadable GIF is the image reader's to report, with its own message
        return False


def input_modality(path: str | os.PathLike) -> str | None:
    """What ``path`` holds: magic bytes decide first, then the suffix, then whether it is UTF-8 text;
    None for binary data no registered format recognizes. An animated GIF is a video (a still GIF an image)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
            complete = len(head) < SNIFF_BYTES or not handle.read(1)
    except OSError:
        head, complete = b"", True
    found = next((entry.modality for entry in FORMATS.values() if any(signature(head) for signature in entry.signatures)),
                 None) or modality_by_suffix(path)
    if found == "image" and (head[:6] in (b"GIF87a", b"GIF89a") or Path(os.fspath(path)).suffix.lower() == ".gif") \
            and _animated_gif(path):
        return "video"
    return found or ("text" if looks_like_text(head, complete) else None)


def default_modality(path: str | os.PathLike) -> str:
    """The modality of the built-in tokenizer for ``path``; InputError for a binary file no format recognizes."""
    found = input_modality(path)
    if found is None:
        raise InputError(f"{path} is binary data that is not audio or an image tokkit recognizes; "
                         f"to encode its raw bytes as text anyway, name a text tokenizer (-t text)")
    return found
