"""The two exact BPE engines behind :class:`~tokkit.text.bpe.BPETokenizer`.

``TiktokenEngine`` runs tiktoken's core on rank tables (tiktoken files, and HF files whose BPE is
expressible as ranks + regex): long texts are cut at safe boundaries and encoded on all cores, and
ids come back as a numpy buffer without Python ints. ``HFEngine`` runs HF tokenizers for everything else.
Both take valid text (``str``) plus, for byte-level tokenizers, raw byte runs that are not UTF-8.
"""

from __future__ import annotations

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np

from tokkit.text.byte_alphabet import bytes_to_chars, chars_to_bytes, utf8_to_chars
from tokkit.text.chunking import CUTTABLE_PATTERNS, split_text
from tokkit.text.hf_json import RankPlan
from tokkit.text.merges import byte_pair_split

#: texts shorter than this are encoded in one call; longer ones are cut into about this size
CHUNK_CHARS = 1 << 18

ID_DTYPE = np.uint32

#: worker threads for long texts and batches: env TOKKIT_THREADS, or None for automatic (see threads_now)
THREADS: int | None = int(os.environ["TOKKIT_THREADS"]) if os.environ.get("TOKKIT_THREADS", "").isdigit() else None

_NEVER_SPECIAL = "\x00tokkit: no special tokens here\x00"


def threads_now() -> int:
    """Threads to encode with now: ``THREADS`` if set; else all CPUs, or 1 while the machine is already
    busier than its CPUs (like ``make -l``: extra threads then only contend)."""
    if THREADS is not None:
        return max(1, THREADS)
    cpus = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0] >= cpus + 1
    except OSError:
        busy = False
    return 1 if busy else cpus


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(THREADS or 0, os.cpu_count() or 1), thread_name_prefix="tokkit-bpe")


def _special_splitter(special_tokens: dict[str, int]) -> re.Pattern[str] | None:
    """A regex finding special tokens leftmost-longest, as HF's added-vocabulary matcher does."""
    if not special_tokens:
        return None
    return re.compile("|".join(re.escape(token) for token in sorted(special_tokens, key=len, reverse=True)))


class TiktokenEngine:
    """tiktoken's core BPE over a rank table whose ranks are the tokenizer's ids."""

    name = "tiktoken"

    def __init__(self, plan: RankPlan) -> None:
        import tiktoken

        self.plan = plan
        # tiktoken's buffer encoder scans for special tokens with a regex; with none it would try an empty
        # match at every character, so it gets one literal that is never allowed (thus never special).
        self._encoding = tiktoken.Encoding(name="tokkit", pat_str=plan.pattern, mergeable_ranks=plan.ranks,
                                           special_tokens={_NEVER_SPECIAL: max(plan.ranks.values()) + 1})
        self._specials = _special_splitter(plan.special_tokens)
        self._cuttable = plan.pattern in CUTTABLE_PATTERNS
        self._regex = None

    def _ordinary(self, text: str) -> np.ndarray:
        return self._encoding.encode_to_numpy(text, allowed_special=set(), disallowed_special=())

    def _plain(self, text: str, parallel: bool) -> np.ndarray:
        """Ids of text without special tokens; long text is cut and encoded on all cores."""
        if not parallel or not self._cuttable or len(text) < 2 * CHUNK_CHARS:
            return self._ordinary(text)
        threads = threads_now()
        if threads < 2:
            return self._ordinary(text)
        parts = split_text(text, max(len(text) // CHUNK_CHARS, threads))
        return np.concatenate(list(_pool().map(self._ordinary, parts)))

    def encode_text(self, text: str, special: bool, template: bool = True, parallel: bool = True) -> np.ndarray:
        """Ids of valid text; with ``special``, special tokens are recognized and the template added."""
        if not special:
            return self._plain(text, parallel).astype(ID_DTYPE, copy=False)
        pieces: list[np.ndarray] = [np.asarray(self.plan.prefix if template else [], ID_DTYPE)]
        start = 0
        if self._specials is not None:
            for match in self._specials.finditer(text):
                pieces.append(self._plain(text[start:match.start()], parallel))
                pieces.append(np.asarray([self.plan.special_tokens[match.group()]], ID_DTYPE))
                start = match.end()
        pieces.append(self._plain(text[start:], parallel))
        pieces.append(np.asarray(self.plan.suffix if template else [], ID_DTYPE))
        return np.concatenate([piece.astype(ID_DTYPE, copy=False) for piece in pieces])

    def encode_many(self, texts: list[str], special: bool, template: bool = True) -> list[np.ndarray]:
        """Ids of many valid texts, spread over all cores when there is enough work."""
        if len(texts) < 2 or sum(map(len, texts)) < 2 * CHUNK_CHARS or threads_now() < 2:
            return [self.encode_text(text, special, template) for text in texts]
        return list(_pool().map(lambda text: self.encode_text(text, special, template, parallel=False), texts))

    def encode_bytes(self, data: bytes) -> list[int]:
        """Ids of bytes that need not be UTF-8, as tiktoken's ``_encode_bytes`` gives them (its own code)."""
        return self._encoding._encode_bytes(data)

    def encode_piece(self, data: bytes) -> list[int]:
        """Ids of one pre-token given as raw bytes (used for bytes that are not UTF-8)."""
        ranks = self.plan.ranks
        if data in ranks:
            return [ranks[data]]
        return [ranks[part] for part in byte_pair_split(ranks, data)]

    def _split(self, text: str) -> list[str]:
        if self._regex is None:
            import regex

            self._regex = regex.compile(self.plan.pattern)
        return self._regex.findall(text)

    def pieces(self, text: str) -> list[bytes]:
        """Pre-tokens of valid text, as bytes."""
        return [piece.encode("utf-8") for piece in self._split(text)]

    def vocab_pieces(self, text: str) -> list[str]:
        """Pre-tokens of valid text spelled in the byte-level alphabet, as HF byte-level vocabularies are."""
        return [utf8_to_chars(piece) for piece in self._split(text)]


class HFEngine:
    """HF tokenizers' Rust BPE: any BPE tokenizer.json (normalizers, Metaspace, byte fallback, ...)."""

    name = "hf-tokenizers"

    def __init__(self, tokenizer_json: str, byte_level: bool, replacement: str | None) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_str(tokenizer_json)
        self._byte_level = byte_level
        self._replacement = replacement
        self._lock = threading.Lock()

    def encode_many(self, texts: list[str], special: bool, template: bool = True) -> list[np.ndarray]:
        """Ids of many valid texts; with ``special``, as HF's default ``encode`` (specials and template)."""
        with self._lock:
            self._tokenizer.encode_special_tokens = not special
            encodings = self._tokenizer.encode_batch_fast(texts, add_special_tokens=special and template)
        return [np.asarray(encoding.ids, ID_DTYPE) for encoding in encodings]

    def encode_text(self, text: str, special: bool, template: bool = True) -> np.ndarray:
        return self.encode_many([text], special, template)[0]

    def encode_piece(self, data: bytes) -> list[int]:
        return [token.id for token in self._tokenizer.model.tokenize(bytes_to_chars(data))]

    def vocab_pieces(self, text: str) -> list[str]:
        """Pre-tokens of valid text after the normalizer, spelled as the vocabulary spells tokens."""
        normalizer, pre_tokenizer = self._tokenizer.normalizer, self._tokenizer.pre_tokenizer
        if normalizer is not None:
            text = normalizer.normalize_str(text)
        return [piece for piece, _ in pre_tokenizer.pre_tokenize_str(text)] if pre_tokenizer else [text]

    def pieces(self, text: str) -> list[bytes]:
        strings = self.vocab_pieces(text)
        if self._byte_level:
            return [chars_to_bytes(piece) for piece in strings]
        if self._replacement:
            strings = [piece.replace(self._replacement, " ") for piece in strings]
        return [piece.encode("utf-8") for piece in strings]
