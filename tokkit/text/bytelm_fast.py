"""Valid last tokens after a text without re-encoding the vocabulary (ByteLM's exact mode, fast path).

A token v may end a cover of text T exactly when encode(T + v) ends with v. For a byte-level rank BPE
with a regex pre-tokenizer that is decided in two steps, both vectorized over the vocabulary:

1. Pre-tokens. Let P be T's last pre-token (the ones before it are final: checked on the automaton).
   The regex match at P's start, run on P + v, ends at P's end (v starts a new pre-token: v must then be
   one pre-token and its own encoding), at v's end (P + v is one pre-token), inside v (invalid), or
   inside P (the match shortens, P splits: repeat with the rest of P). The automaton of the regex
   (``pretoken_dfa``) gives this for every token from the state reached after P; the answer per state
   is cached, and there are few states.
2. BPE. Inside one pre-token, BPE(P) + [v] is the encoding of P + v exactly when the pair
   (last token of BPE(P), v) can be adjacent (``bpe_pairs``; Vieira et al., 2025).

Tokens whose bytes are not UTF-8 are decided by the same rules of the tokenizer (an undecodable run is
its own pre-token), and the few tokens the pair test does not cover are re-encoded. Anything else this
module does not model returns None, and ByteLM re-encodes as before.
"""

from __future__ import annotations

import weakref
from typing import Callable

import numpy as np

from tokkit.text.bpe_pairs import MergeTable
from tokkit.text.pretoken_dfa import PretokenDFA, pretoken_dfa

#: DFA states whose per-token answers are kept, per tokenizer
_STATE_CACHE_LIMIT = 256
#: kind codes of a token after a pre-token: starts a new one / joins it / invalid / re-split
_NEW, _JOIN, _BAD, _SPLIT = 0, 1, 2, 3

_INDEXES: "weakref.WeakKeyDictionary[object, VocabIndex | None]" = weakref.WeakKeyDictionary()


class VocabIndex:
    """Per-tokenizer tables: the pre-tokenizer automaton, token class strings, the merge table, and
    which tokens are one pre-token and their own encoding. Built once per tokenizer (``index_for``)."""

    def __init__(self, token_bytes: list[bytes], dfa: PretokenDFA, encode: Callable[[bytes], list[int] | None]) -> None:
        self.dfa = dfa
        self.token_bytes = token_bytes
        n = len(token_bytes)
        self.merges = MergeTable(token_bytes)
        texts: list[str | None] = []
        for data in token_bytes:
            try:
                texts.append(data.decode("utf-8") if data else None)
            except UnicodeDecodeError:
                texts.append(None)
        self.utf8_ids = np.array([i for i, t in enumerate(texts) if t], dtype=np.int64)
        char_class = dfa.char_class
        flat: list[int] = []
        lengths = []
        for i in self.utf8_ids.tolist():
            text = texts[i]
            flat.extend(char_class(c) for c in text)
            lengths.append(len(text))
        self.n_chars = np.array(lengths, dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.n_chars)[:-1]]).astype(np.int64)
        self.flat = np.array(flat, dtype=np.int64)
        self._offsets: dict[int, np.ndarray] = {}
        # tokens that are one pre-token and their own encoding (valid right after a finished pre-token)
        whole = self.offsets(1) == self.n_chars
        solo = np.zeros(n, dtype=bool)
        ids = self.utf8_ids[whole]
        solo[ids] = self.merges.regular[ids]
        for v in ids[~self.merges.regular[ids]].tolist():
            solo[v] = encode(token_bytes[v]) == [v]
        # tokens made only of bytes that are not UTF-8: one pre-token of their own wherever they follow
        self.raw_ids = np.array([i for i, t in enumerate(texts) if t is None and token_bytes[i]
                                 and _undecodable(token_bytes[i])], dtype=np.int64)
        for v in self.raw_ids.tolist():
            solo[v] = encode(token_bytes[v]) == [v]
        self.solo = solo
        #: tokens that are not UTF-8 (a cut character, or bytes of one): re-encoded after a cut character
        self.other_ids = np.array([i for i, t in enumerate(texts) if t is None and token_bytes[i]], dtype=np.int64)
        self.position = np.full(n, -1, dtype=np.int64)
        self.position[self.utf8_ids] = np.arange(len(self.utf8_ids))

    def offsets(self, state: int) -> np.ndarray:
        """Per UTF-8 token: where the last match started at P's start ends inside it, from the automaton
        state after P (0..len, -1 where none ends inside it); cached per state."""
        hit = self._offsets.get(state)
        if hit is None:
            if len(self._offsets) >= _STATE_CACHE_LIMIT:
                self._offsets.clear()
            hit = self.dfa.last_match_offsets(state, self.flat, self.starts, self.n_chars)
            self._offsets[state] = hit
        return hit


def _after_cut_character(index: VocabIndex, before: bytes, tail: list[int], usable_mask: np.ndarray,
                         check_one: Callable[[int], tuple[int, ...] | None]) -> dict[tuple[int, ...], np.ndarray] | None:
    """Valid last tokens after a text that is UTF-8 but for its last bytes (a character cut off).

    Those bytes are a pre-token of their own (the tokenizer encodes undecodable runs apart), so a UTF-8
    token after them starts a new run: valid when it is one pre-token and its own encoding. A token
    that is not UTF-8 may join or complete the cut character: it is re-encoded (about 1% of a
    vocabulary).
    """
    decoded = before.decode("utf-8", "surrogateescape")
    cut = len(decoded)
    while cut and 0xDC80 <= ord(decoded[cut - 1]) <= 0xDCFF:
        cut -= 1
    if not tail or any(0xDC80 <= ord(c) <= 0xDCFF for c in decoded[:cut]):
        return None
    groups: dict[tuple[int, ...], list[np.ndarray]] = {}
    solo = index.utf8_ids[index.solo[index.utf8_ids] & usable_mask[index.utf8_ids]]
    if solo.size:
        groups[tuple(tail)] = [solo]
    for v in index.other_ids[usable_mask[index.other_ids]].tolist():
        context = check_one(v)
        if context is not None:
            groups.setdefault(context, []).append(np.array([v], dtype=np.int64))
    return {context: np.concatenate(parts) for context, parts in groups.items()}


def _undecodable(data: bytes) -> bool:
    return all(0xDC80 <= ord(c) <= 0xDCFF for c in data.decode("utf-8", "surrogateescape"))


def index_for(tokenizer, token_bytes: Callable[[], list[bytes]],
              encode: Callable[[bytes], list[int] | None]) -> VocabIndex | None:
    """The cached VocabIndex of ``tokenizer``, or None where the fast path does not apply (not a byte-level
    rank BPE with a supported regex pre-tokenizer). ``token_bytes()`` lists every token's bytes, b"" for
    special tokens and unused ids."""
    try:
        return _INDEXES[tokenizer]
    except (KeyError, TypeError):
        pass
    index = None
    describe = getattr(tokenizer, "describe", None)
    facts = describe() if callable(describe) else {}
    pattern = facts.get("pattern")
    if facts.get("engine") == "tiktoken" and facts.get("byte_level") and pattern:
        try:
            dfa = pretoken_dfa(pattern)
        except ValueError:
            dfa = None
        if dfa is not None:
            index = VocabIndex(token_bytes(), dfa, encode)
    try:
        _INDEXES[tokenizer] = index
    except TypeError:
        pass
    return index


def end_groups(index: VocabIndex, before: bytes, ctx_ids: list[int], ids: list[int],
               usable_mask: np.ndarray, check_one: Callable[[int], tuple[int, ...] | None],
               encode: Callable[[bytes], list[int] | None]) -> dict[tuple[int, ...], np.ndarray] | None:
    """Valid last tokens right after ``before`` (= context text + tail), grouped by the tokens between
    the context and them; None where the fast path cannot decide (the caller re-encodes).

    ``ids`` = encode(before), which starts with ``ctx_ids``; ``check_one(v)`` re-encodes one token (for
    the few the tables do not cover) and returns its group or None; ``usable_mask``: ids that may be a cover.
    """
    dfa = index.dfa
    m = len(ctx_ids)
    tail = ids[m:]
    try:
        text = before.decode("utf-8")
    except UnicodeDecodeError:
        return _after_cut_character(index, before, tail, usable_mask, check_one)
    if not text and not ids:  # the empty text: a token is valid when it is one pre-token and its own encoding
        solo = np.concatenate([index.utf8_ids, index.raw_ids])
        solo = solo[index.solo[solo]]
        return {(): solo[usable_mask[solo]]}
    if not text or not tail:
        return None
    pieces = dfa.pieces(text)
    if "".join(pieces) != text:
        return None
    # every pre-token before the last is final: no thread of its match is left at the end of the text
    start = 0
    for piece in pieces[:-1]:
        state, _ = dfa.run(dfa.classes(text[start:]))
        if state != 0:
            return None
        start += len(piece)
    last = pieces[-1]
    # the tokens of the last pre-token are the end of `tail`
    size, k = len(last.encode("utf-8")), 0
    while size > 0 and k < len(tail):
        k += 1
        size -= len(index.token_bytes[tail[-k]])
    if size != 0:
        return None
    base = tuple(tail[:-k])
    groups: dict[tuple[int, ...], list[np.ndarray]] = {}

    def add(context: tuple[int, ...], tokens: np.ndarray) -> None:
        tokens = tokens[usable_mask[tokens]]
        if tokens.size:
            groups.setdefault(context, []).append(tokens)

    # tokens of undecodable bytes start a pre-token of their own after the whole text
    add(tuple(tail), index.raw_ids[index.solo[index.raw_ids]])
    # UTF-8 tokens: the pre-token P (a suffix of `last`) and the tokens before it
    piece, piece_tokens, prefix_ctx = last, tuple(tail[-k:]), base
    rows = np.arange(len(index.utf8_ids))
    while rows.size:
        state, inner = dfa.run(dfa.classes(piece))
        if state == 0:
            return None
        offsets = index.offsets(state)[rows]
        n_chars = index.n_chars[rows]
        tokens = index.utf8_ids[rows]
        context = prefix_ctx + piece_tokens
        new = offsets == 0
        add(context, tokens[new & index.solo[tokens]])
        join = tokens[(offsets == n_chars) & (n_chars > 0)]
        if join.size:
            x = piece_tokens[-1]
            merges = index.merges
            if merges.regular[x]:
                regular = join[merges.regular[join]]
                add(context, regular[merges.adjacent_to_many(x, regular)])
                odd = join[~merges.regular[join]]
            else:
                odd = join
            for v in odd.tolist():
                found = check_one(v)
                if found is not None:
                    add(found, np.array([v], dtype=np.int64))
        split = offsets == -1
        if not split.any():
            break
        if inner is None:
            return None
        # the match at P's start now ends `inner` characters in (inside P): that part is a final pre-token
        head, rest = piece[:inner], piece[inner:]
        if not head or dfa.pieces(head) != [head] or dfa.pieces(rest) != [rest]:
            return None
        head_ids = encode(head.encode("utf-8"))
        rest_ids = encode(rest.encode("utf-8"))
        if not head_ids or not rest_ids:
            return None
        prefix_ctx = prefix_ctx + tuple(head_ids)
        piece, piece_tokens = rest, tuple(rest_ids)
        rows = rows[split]
    return {context: np.concatenate(parts) for context, parts in groups.items()}
