"""Exact next-byte probabilities from a tokenized language model (Phan et al., 2024).

A token LM conditioned on a prompt that ends mid-token is biased: the tokenizer would never have
produced the prompt's tokens if more bytes followed. The unbiased answer sums the LM's probability of
every *valid cover* of the byte prefix: token sequences t_1..t_k that are the tokenizer's own
encoding of their bytes, whose bytes start with the prefix and whose last token crosses its end.
A valid cover is fixed by its split point i and last token v: it is encode(prefix[:i] + bytes(v)),
provided that encoding ends with v (its earlier tokens need not be encode(prefix[:i]): trailing
whitespace, for one, is split differently once a word follows). Split points before a pre-token
boundary that later bytes cannot move never occur, so only the prompt's last pre-tokens are
re-encoded: the boundary taken is the start of the ``lookback_pieces``-th last pre-token (2 is
enough for the GPT-2, Llama 3 / cl100k and Metaspace pre-tokenizers; a larger value only costs time).
For tokenizers that read UTF-8 only, a cover ending inside a character is valid when it starts the
encoding of its bytes completed to a whole character (byte fallback). The next-byte distribution is
P(prefix + c) / P(prefix), normalized over the 256 bytes and the end of text (index 256).
"""

from __future__ import annotations

import abc
import bisect
import functools
import inspect
from typing import Iterable, Sequence

import numpy as np

from tokkit.errors import InputError, TokkitError
from tokkit.text.protocols import ByteTokenizer, LanguageModel, special_token_ids

#: index of the end-of-text entry in a next-byte distribution
END_OF_TEXT = 256
#: cache sizes (entries) above which the re-encoding caches are dropped
_TAIL_CACHE_LIMIT = 200_000
_MASK_CACHE_LIMIT = 32


def _as_bytes(prefix: bytes | str) -> bytes:
    if isinstance(prefix, str):
        return prefix.encode("utf-8")
    if isinstance(prefix, (bytes, bytearray, memoryview)):
        return bytes(prefix)
    raise InputError(f"a prefix must be bytes or str, not {type(prefix).__name__}")


def _logsumexp(values: np.ndarray) -> float:
    if values.size == 0:
        return -np.inf
    top = float(np.max(values))
    if top == -np.inf:
        return -np.inf
    return top + float(np.log(np.sum(np.exp(values - top))))


class ByteSampler(abc.ABC):
    """Byte-by-byte generation from any source of next-byte log-probabilities."""

    @abc.abstractmethod
    def next_byte_logprobs(self, prefix: bytes | str) -> np.ndarray:
        """Log-probabilities of the next byte (0..255) and of the end of text (256); logsumexp is 0."""

    def sample(self, prefix: bytes | str, max_bytes: int, temperature: float = 1.0,
               seed: int | None = None) -> bytes:
        """Sample up to ``max_bytes`` bytes after ``prefix``; stops early at the end of text.

        ``temperature`` scales the next-byte log-probabilities (not the token ones).
        """
        if not temperature > 0:
            raise InputError(f"temperature must be positive, got {temperature}; use greedy() for argmax decoding")
        rng = np.random.default_rng(seed)
        return self._generate(prefix, max_bytes, lambda logp: int(rng.choice(257, p=_softmax(logp / temperature))))

    def greedy(self, prefix: bytes | str, max_bytes: int) -> bytes:
        """The most likely byte at each step, up to ``max_bytes`` bytes or the end of text."""
        return self._generate(prefix, max_bytes, lambda logp: int(np.argmax(logp)))

    def _generate(self, prefix: bytes | str, max_bytes: int, choose) -> bytes:
        if max_bytes < 0:
            raise InputError(f"max_bytes must be >= 0, got {max_bytes}")
        text = _as_bytes(prefix)
        out = bytearray()
        for _ in range(max_bytes):
            choice = choose(self.next_byte_logprobs(text + bytes(out)))
            if choice == END_OF_TEXT:
                break
            out.append(choice)
        return bytes(out)


def utf8_completions(text: bytes) -> list[bytes]:
    """Byte strings that complete a UTF-8 character cut off at the end of ``text`` (else []).

    The first missing byte takes each allowed value, any further ones 0x80: enough for a tokenizer
    that reads UTF-8 to show how it tokenizes the bytes of the cut character (byte fallback).
    """
    for back in range(1, min(4, len(text)) + 1):
        lead = text[-back]
        if lead < 0x80 or lead >= 0xC0:
            break
    else:
        return []
    size = 2 if 0xC2 <= lead < 0xE0 else 3 if 0xE0 <= lead < 0xF0 else 4 if 0xF0 <= lead < 0xF5 else 0
    missing = size - back
    if missing <= 0:
        return []
    out = []
    for first in range(0x80, 0xC0):
        tail = bytes([first]) + b"\x80" * (missing - 1)
        try:
            (text[-back:] + tail).decode("utf-8")
        except UnicodeDecodeError:
            continue
        out.append(tail)
    return out


def _softmax(logp: np.ndarray) -> np.ndarray:
    p = np.exp(logp - np.max(logp))
    return p / p.sum()


class ByteLM(ByteSampler):
    """A byte-level LM made exactly from a token-level ``lm`` and its ``tokenizer``.

    ``lm(batch)`` takes a list of token-id contexts and returns next-token log-probabilities of shape
    [batch, vocab] (vocab >= tokenizer.vocab_size). ``bos_token_ids`` are put before every context
    (needed by LMs that cannot read an empty context). LM rows are cached between calls, so sampling
    makes one batched LM call per generated byte. ``lm_calls`` and ``lm_rows`` count the work done.

    Exactness costs one tokenizer call per vocabulary entry per new prefix: a token may follow the
    prefix's own encoding only if the tokenizer would produce that pair. ``validate_end=False`` skips
    that check and lets every token follow, as Phan et al. do: exact only for an LM that gives
    non-canonical token sequences no probability, approximate (and O(1) tokenizer calls) otherwise.
    """

    def __init__(self, lm: LanguageModel, tokenizer: ByteTokenizer, eos_token_id: int, *,
                 bos_token_ids: Sequence[int] = (), lookback_pieces: int = 2, validate_end: bool = True) -> None:
        if lookback_pieces < 1:
            raise InputError(f"lookback_pieces must be >= 1, got {lookback_pieces}")
        self.lm = lm
        self.tokenizer = tokenizer
        self.eos_token_id = int(eos_token_id)
        self.bos_token_ids = tuple(int(t) for t in bos_token_ids)
        self.lookback_pieces = lookback_pieces
        self.validate_end = validate_end
        self.vocab_size = int(tokenizer.vocab_size)
        excluded = special_token_ids(tokenizer) | {self.eos_token_id}
        self._bytes = [b"" if i in excluded else self._token_bytes(i) for i in range(self.vocab_size)]
        self._usable = np.array([i for i, b in enumerate(self._bytes) if b], dtype=np.int64)
        self._first_byte = np.array([self._bytes[i][0] for i in self._usable], dtype=np.int64)
        order = sorted(self._usable.tolist(), key=lambda i: self._bytes[i])
        self._sorted_ids = order
        self._sorted_bytes = [self._bytes[i] for i in order]
        self._lead = self._detect_lead()
        self._rows: dict[tuple[int, ...], np.ndarray] = {}
        self._tails: dict[tuple[bytes, bytes], list[int] | None] = {}
        self._masks: dict[tuple[bytes, bytes], dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]]] = {}
        self.lm_calls = 0
        self.lm_rows = 0

    # -- tokenizer helpers -------------------------------------------------------------------
    def _token_bytes(self, token_id: int) -> bytes:
        """A token's bytes; b"" for ids the tokenizer does not use (they never appear in a cover)."""
        try:
            return bytes(self.tokenizer.token_bytes(token_id))
        except TokkitError:
            return b""

    def _encode(self, text: bytes) -> list[int] | None:
        """The tokenizer's encoding of ``text``, or None where it cannot encode those bytes."""
        encode = self.tokenizer.encode_ids
        if "invalid" in inspect.signature(encode).parameters:
            # covers are local only if invalid bytes stay pieces of their own (BPETokenizer's "runs")
            encode = functools.partial(encode, invalid="runs")
        try:
            return [int(t) for t in encode(text)]
        except (UnicodeError, ValueError, TokkitError):
            return None

    def _stream(self, ids: Iterable[int]) -> bytes:
        return b"".join(self._bytes[i] for i in ids)

    def _detect_lead(self) -> bytes:
        """Bytes the tokenizer's tokens add before the text (a Metaspace prepended space), else b""."""
        probe = b"a"
        ids = self._encode(probe)
        stream = self._stream(ids or [])
        return stream[: -len(probe)] if stream.endswith(probe) else b""

    def _split_points(self, text: bytes) -> tuple[int, int]:
        """(window start c, stable boundary b), c <= b: no bytes appended to ``text`` move pre-token
        boundaries before b, and c leaves one more pre-token of left context for re-encoding."""
        pieces = self.tokenizer.pretokenize(text)
        lengths = [len(p) for p in pieces]
        shift = sum(lengths) - len(text)
        if shift < 0 or len(pieces) <= self.lookback_pieces:
            return 0, 0
        starts = np.concatenate([[0], np.cumsum(lengths)]) - shift
        b = int(max(starts[len(pieces) - self.lookback_pieces], 0))
        c = int(max(starts[len(pieces) - self.lookback_pieces - 1], 0))
        return c, b

    # -- the cover computation --------------------------------------------------------------
    def next_byte_logprobs(self, prefix: bytes | str) -> np.ndarray:
        """Exact log P(next byte | prefix) for bytes 0..255 and end of text (index 256)."""
        text = _as_bytes(prefix)
        state = _CoverState(self, text)
        needed = state.contexts()
        self._fetch_rows(needed)
        logp = state.next_byte_logprobs(self._rows)
        self._rows = {key: self._rows[key] for key in needed}
        if len(self._tails) > _TAIL_CACHE_LIMIT:
            self._tails.clear()
        if len(self._masks) > _MASK_CACHE_LIMIT:
            self._masks.clear()
        return logp

    def _fetch_rows(self, needed: list[tuple[int, ...]]) -> None:
        missing = [key for key in needed if key not in self._rows]
        if not missing:
            return
        out = np.asarray(self.lm([list(key) for key in missing]), dtype=np.float64)
        width = max(self.vocab_size, self.eos_token_id + 1)
        if out.ndim != 2 or out.shape[0] != len(missing) or out.shape[1] < width:
            raise InputError(f"the LM returned an array of shape {out.shape}; expected ({len(missing)}, >= {width}) "
                             "next-token log-probabilities")
        self.lm_calls += 1
        self.lm_rows += len(missing)
        for key, row in zip(missing, out):
            self._rows[key] = row

    def _tokens_starting_with(self, head: bytes) -> list[int]:
        """Usable tokens whose bytes start with ``head`` (a contiguous run of the sorted token bytes)."""
        lo = bisect.bisect_left(self._sorted_bytes, head)
        stem = head.rstrip(b"\xff")
        hi = (bisect.bisect_left(self._sorted_bytes, stem[:-1] + bytes([stem[-1] + 1]), lo) if stem
              else len(self._sorted_bytes))
        return self._sorted_ids[lo:hi]


class _CoverState:
    """The valid covers of one byte prefix, grouped by the context before their last token."""

    def __init__(self, owner: ByteLM, text: bytes) -> None:
        self.owner = owner
        self.text = text
        self.stream = owner._lead + text
        full = owner._encode(text)
        c, b = owner._split_points(text) if full is not None else (0, 0)
        window = self._window(c, b, full) if full is not None else None
        if window is None:
            c, b = 0, 0
            window = [], owner._encode(b"") or []
        self.c, self.b = c, b
        self.ctx_text = text[c:b]
        self.head, self.ctx_ids = window
        self.head_stream_len = len(owner._stream(self.head))
        self.end_tail = full[len(self.head):] if full is not None else []
        #: whether encode(prefix) decodes back to the prefix (else it is no cover, and no end of text);
        #: not so where the tokenizer cannot encode the prefix (a character cut in half, for tokenizers
        #: that read UTF-8): then every cover re-encodes the whole prefix
        self.end_is_exact = full is not None and owner._stream(self.end_tail) == self.stream[self.head_stream_len:]
        self.groups = self._covers()

    def _window(self, c: int, b: int, full: list[int]):
        owner = self.owner
        head = owner._encode(self.text[:b]) if b else []
        ctx = owner._encode(self.text[c:b]) if b > c else []
        win = owner._encode(self.text[c:])
        if head is None or ctx is None or win is None or win[: len(ctx)] != ctx or head + win[len(ctx):] != full:
            return None
        if owner._stream(head) != self.stream[: len(owner._stream(head))]:
            return None
        return head, ctx

    def tail_of(self, tail_text: bytes) -> list[int] | None:
        """Tokens after the head for text[:b] + tail_text, encoded with one pre-token of context."""
        key = (self.ctx_text, tail_text)
        cache = self.owner._tails
        if key not in cache:
            ids = self.owner._encode(self.ctx_text + tail_text)
            ok = ids is not None and ids[: len(self.ctx_ids)] == self.ctx_ids
            cache[key] = ids[len(self.ctx_ids):] if ok else None
        return cache[key]

    def _cover_context(self, i: int, token: int) -> tuple[int, ...] | None:
        """If (split point i, last token) is a valid cover, the tokens between the head and that token.

        The cover is encode(stream[:i] + token's bytes) when that ends with the token: the only
        valid sequence with those bytes. Where those bytes end inside a character that the tokenizer
        cannot encode cut in half, the cover is the part of encode(bytes + completion) that covers the
        bytes, for the first completion (see ``utf8_completions``) that has a token boundary there.
        """
        owner = self.owner
        stream = self.stream[:i] + owner._bytes[token]
        lead = owner._lead
        if not stream.startswith(lead) or len(stream) - len(lead) <= self.b:
            return None
        tail_text = stream[len(lead) + self.b:]
        expected = stream[self.head_stream_len:]
        tail = self.tail_of(tail_text)
        if tail is not None:
            if tail and tail[-1] == token and owner._stream(tail) == expected:
                return tuple(tail[:-1])
            return None
        return self._completed_cover(tail_text, token, expected)

    def _completed_cover(self, tail_text: bytes, token: int, expected: bytes) -> tuple[int, ...] | None:
        owner = self.owner
        for completion in utf8_completions(tail_text):
            ids = self.tail_of(tail_text + completion)
            if ids is None:
                continue
            ends = np.cumsum([len(owner._bytes[t]) for t in ids])
            k = int(np.searchsorted(ends, len(expected))) if len(ids) else 0
            if k < len(ids) and ends[k] == len(expected) and ids[k] == token and owner._stream(ids[: k + 1]) == expected:
                return tuple(ids[:k])
        return None

    def _candidates(self, i: int) -> list[int]:
        rest = self.stream[i:]
        return [v for v in self.owner._tokens_starting_with(rest) if len(self.owner._bytes[v]) > len(rest)]

    def _covers(self) -> dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]]:
        """context -> (last tokens, the byte each puts right after the prefix), over all valid covers
        of prefix + one byte."""
        owner = self.owner
        n = len(self.stream)
        groups: dict[tuple[int, ...], tuple[list[int], list[int]]] = {}
        for i in range(self.head_stream_len, n):
            for v in self._candidates(i):
                context = self._cover_context(i, v)
                if context is not None:
                    tokens, next_bytes = groups.setdefault(context, ([], []))
                    tokens.append(v)
                    next_bytes.append(owner._bytes[v][n - i])
        out = {key: (np.array(t, dtype=np.int64), np.array(nb, dtype=np.int64)) for key, (t, nb) in groups.items()}
        for context, (tokens, next_bytes) in self._end_covers().items():
            if context in out:
                tokens = np.concatenate([out[context][0], tokens])
                next_bytes = np.concatenate([out[context][1], next_bytes])
            out[context] = (tokens, next_bytes)
        return out

    def _end_covers(self) -> dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]]:
        """Covers whose last token starts right after the prefix (every token is a candidate); cached.

        The hot loop of the whole method: one encoding per vocabulary entry, so it is kept lean.
        """
        owner = self.owner
        key = (self.ctx_text, self.text[self.b:])
        cached = owner._masks.get(key)
        if cached is None and not owner.validate_end and self.end_is_exact:
            cached = {tuple(self.end_tail): (owner._usable, owner._first_byte)}
        if cached is None:
            before = self.ctx_text + self.text[self.b:]
            ctx, m = self.ctx_ids, len(self.ctx_ids)
            expected = self.stream[self.head_stream_len:]
            end_tail = tuple(self.end_tail)
            encode, data = owner._encode, owner._bytes
            groups: dict[tuple[int, ...], list[int]] = {}
            for k, v in enumerate(owner._usable.tolist()):
                ids = encode(before + data[v])
                if ids is None:
                    completed = self._completed_cover(before[len(self.ctx_text):] + data[v], v, expected + data[v])
                    if completed is not None:
                        groups.setdefault(completed, []).append(k)
                    continue
                if len(ids) <= m or ids[-1] != v or ids[:m] != ctx:
                    continue
                mid = tuple(ids[m:-1])
                if (mid == end_tail and self.end_is_exact) or owner._stream(mid) == expected:
                    groups.setdefault(mid, []).append(k)
            cached = {ctx: (owner._usable[np.array(ks)], owner._first_byte[np.array(ks)]) for ctx, ks in groups.items()}
            owner._masks[key] = cached
        return cached

    def contexts(self) -> list[tuple[int, ...]]:
        """Every LM context whose next-token row the covers need (each cover context and its prefixes)."""
        base = self.owner.bos_token_ids + tuple(self.head)
        seen: dict[tuple[int, ...], None] = {}
        for tail in list(self.groups) + [tuple(self.end_tail)]:
            for j in range(len(tail) + 1):
                seen.setdefault(base + tail[:j], None)
        return list(seen)

    def _context_logprob(self, tail: tuple[int, ...], rows) -> float:
        base = self.owner.bos_token_ids + tuple(self.head)
        return float(sum(rows[base + tail[:j]][token] for j, token in enumerate(tail)))

    def next_byte_logprobs(self, rows) -> np.ndarray:
        base = self.owner.bos_token_ids + tuple(self.head)
        ids, terms = [], []
        for context, (tokens, next_bytes) in self.groups.items():
            ids.append(next_bytes)
            terms.append(self._context_logprob(context, rows) + rows[base + context][tokens])
        if self.end_is_exact:
            end = tuple(self.end_tail)
            ids.append(np.array([END_OF_TEXT]))
            terms.append(np.array([self._context_logprob(end, rows) + rows[base + end][self.owner.eos_token_id]]))
        all_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        all_terms = np.concatenate(terms) if terms else np.zeros(0)
        out = np.full(257, -np.inf)
        for value in np.unique(all_ids):
            out[value] = _logsumexp(all_terms[all_ids == value])
        total = _logsumexp(out)
        if total == -np.inf:
            raise InputError("no valid token sequence covers this prefix: the tokenizer cannot produce these bytes")
        return out - total


class ByteEnsemble(ByteSampler):
    """Average the next-byte distributions of ByteLMs that may use different tokenizers.

    Byte level is the common ground of LMs whose vocabularies differ; ``weights`` (default uniform)
    mix probabilities, not log-probabilities.
    """

    def __init__(self, members: Sequence[ByteSampler], weights: Sequence[float] | None = None) -> None:
        if not members:
            raise InputError("a ByteEnsemble needs at least one member")
        if weights is None:
            weights = [1.0] * len(members)
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (len(members),) or np.any(w < 0) or w.sum() <= 0:
            raise InputError(f"weights must be {len(members)} non-negative numbers with a positive sum")
        self.members = list(members)
        self._log_weights = np.log(w / w.sum())

    def next_byte_logprobs(self, prefix: bytes | str) -> np.ndarray:
        """log sum_m w_m P_m(next byte | prefix) for bytes 0..255 and end of text (256)."""
        stacked = np.stack([member.next_byte_logprobs(prefix) for member in self.members])
        return np.logaddexp.reduce(stacked + self._log_weights[:, None], axis=0)
