"""Category samples for mixture inference: resolve NAME=PATH specs (file, folder, glob), read up to a
byte budget of text, and count the pre-tokenized words of each category."""

from __future__ import annotations

import glob
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from tokkit.errors import InputError

#: text is pre-tokenized in pieces of about this many characters, cut at line ends
CHUNK_CHARS = 1 << 20


@dataclass
class CategorySample:
    """One category's word counts and how many bytes of text they came from."""

    name: str
    words: Counter
    n_bytes: int
    n_files: int


def parse_category(spec: str) -> tuple[str, str]:
    """Split ``NAME=PATH``; a one-line error names the expected form."""
    name, sep, path = spec.partition("=")
    name, path = name.strip(), path.strip()
    if not sep or not name or not path:
        raise InputError(f"--category {spec!r}: expected NAME=PATH (PATH a file, a folder or a glob)")
    return name, path


def category_files(name: str, path: str) -> list[Path]:
    """Every readable non-empty text file that ``path`` names: the file, a folder's files
    (recursively) or a glob's matches; in a fixed shuffled order so a byte budget samples broadly."""
    target = Path(path)
    if target.is_file():
        candidates = [target]
    elif target.is_dir():
        candidates = [p for p in target.rglob("*") if p.is_file()]
    elif glob.has_magic(path):
        candidates = [Path(p) for p in glob.glob(path, recursive=True) if Path(p).is_file()]
    else:
        raise InputError(f"category {name!r}: {path} does not exist")
    files = sorted(p for p in candidates if _is_text(p))
    if not files:
        raise InputError(f"category {name!r}: {path} holds no non-empty text files")
    random.Random(0).shuffle(files)
    return files


def _is_text(path: Path) -> bool:
    """Non-empty and without NUL bytes in its first 8 KiB (binary files are skipped)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8192)
    except OSError:
        return False
    return bool(head) and b"\0" not in head


def read_texts(files: Iterable[Path], budget: int | None) -> Iterable[str]:
    """Decoded text of ``files`` (invalid UTF-8 replaced), stopping once ``budget`` bytes were read."""
    left = budget
    for path in files:
        data = path.read_bytes()
        if left is not None:
            data = data[:left]
            left -= len(data)
        if data:
            yield data.decode("utf-8", errors="replace")
        if left is not None and left <= 0:
            return


def count_words(
    name: str,
    texts: Iterable[str],
    pretokenize: Callable[[str], list[str]],
    on_bytes: Callable[[int], None] | None = None,
) -> CategorySample:
    """Pre-tokenize ``texts`` in line-aligned chunks and count the words."""
    words: Counter = Counter()
    n_bytes = n_files = 0
    for text in texts:
        n_files += 1
        size = len(text.encode("utf-8"))
        n_bytes += size
        for chunk in _chunks(text):
            words.update(pretokenize(chunk))
        if on_bytes is not None:
            on_bytes(size)
    if not words:
        raise InputError(f"category {name!r}: its files hold no text")
    return CategorySample(name, words, n_bytes, n_files)


def _chunks(text: str) -> Iterable[str]:
    start = 0
    while start < len(text):
        end = text.find("\n", start + CHUNK_CHARS)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end
