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

Tokens whose bytes are not UTF-8 are decided by the same rules of the tokenizer: an undecodable run c is
its own pre-token, so after a cut character the tokens that leave c undecodable are decided once per c
(encode(T + c + v) = encode(T) + encode(c + v)) and only those that complete the character are
re-encoded. Irregular tokens (ranked before one of their parts: the pair test does not cover them) that
BPE's merge loop never builds from their bytes can only be a whole pre-token, so they never join one;
the few the loop builds are re-encoded. ``head`` restricts the work to the tokens that start with given
bytes (a byte-trie range: covers at an earlier split point of the prefix). Anything else this module
does not model returns None, and ByteLM re-encodes as before.
"""

from __future__ import annotations

import bisect
import weakref
from typing import Callable, Sequence

import numpy as np

from tokkit.text.bpe_pairs import MergeTable
from tokkit.text.pretoken_dfa import PretokenDFA, pretoken_dfa

#: DFA states whose per-token answers are kept, per tokenizer
_STATE_CACHE_LIMIT = 256
#: kind codes of a token after a pre-token: starts a new one / joins it / invalid / re-split
_NEW, _JOIN, _BAD, _SPLIT = 0, 1, 2, 3

_INDEXES: "weakref.WeakKeyDictionary[object, VocabIndex | None]" = weakref.WeakKeyDictionary()


def prefix_span(sorted_bytes: Sequence[bytes], head: bytes) -> tuple[int, int]:
    """[lo, hi): the run of a sorted list of byte strings that start with ``head`` (a node of the byte trie)."""
    lo = bisect.bisect_left(sorted_bytes, head)
    stem = head.rstrip(b"\xff")
    hi = (bisect.bisect_left(sorted_bytes, stem[:-1] + bytes([stem[-1] + 1]), lo) if stem else len(sorted_bytes))
    return lo, hi


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
        # in the order of their bytes (the byte trie's order), so that results come out sorted by it
        self.utf8_ids = np.array(sorted((i for i, t in enumerate(texts) if t), key=token_bytes.__getitem__),
                                 dtype=np.int64)
        char_class = dfa.char_class
        flat: list[int] = []
        lengths = []
        for i in self.utf8_ids.tolist():
            text = texts[i]
            flat.extend(char_class(c) for c in text)
            lengths.append(len(text))
        self.utf8_bytes = [token_bytes[i] for i in self.utf8_ids.tolist()]
        self.n_chars = np.array(lengths, dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.n_chars)[:-1]]).astype(np.int64)
        self.flat = np.array(flat, dtype=np.int64)
        self._offsets: dict[int, np.ndarray] = {}
        self._kinds: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._runs: dict[bytes, tuple | None] = {}
        # tokens that are one pre-token and their own encoding (valid right after a finished pre-token)
        whole = self.offsets(1) == self.n_chars
        solo = np.zeros(n, dtype=bool)
        ids = self.utf8_ids[whole]
        solo[ids] = self.merges.regular[ids]
        for v in ids[~self.merges.regular[ids]].tolist():
            solo[v] = encode(token_bytes[v]) == [v]
        # tokens made only of bytes that are not UTF-8: one pre-token of their own wherever they follow
        by_bytes = token_bytes.__getitem__
        self.raw_ids = np.array(sorted((i for i, t in enumerate(texts) if t is None and token_bytes[i]
                                        and _undecodable(token_bytes[i])), key=by_bytes), dtype=np.int64)
        self.raw_bytes = [token_bytes[i] for i in self.raw_ids.tolist()]
        for v in self.raw_ids.tolist():
            solo[v] = encode(token_bytes[v]) == [v]
        self.solo = solo
        #: tokens that are not UTF-8 (a cut character, or bytes of one): re-encoded after a cut character
        self.other_ids = np.array(sorted((i for i, t in enumerate(texts) if t is None and token_bytes[i]), key=by_bytes),
                                  dtype=np.int64)
        self.other_bytes = [token_bytes[i] for i in self.other_ids.tolist()]
        self.position = np.full(n, -1, dtype=np.int64)
        self.position[self.utf8_ids] = np.arange(len(self.utf8_ids))

    def starting_with(self, head: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows of ``utf8_ids`` (a range), and the ``raw_ids`` and ``other_ids``, of tokens whose bytes
        start with ``head``."""
        lo, hi = prefix_span(self.utf8_bytes, head)
        r_lo, r_hi = prefix_span(self.raw_bytes, head)
        o_lo, o_hi = prefix_span(self.other_bytes, head)
        return np.arange(lo, hi), self.raw_ids[r_lo:r_hi], self.other_ids[o_lo:o_hi]

    def after_run(self, run: bytes, encode: Callable[[bytes], list[int] | None]):
        """For an undecodable run of bytes c: (encode(c), {context: tokens v that are not UTF-8, leave c
        undecodable and end encode(c + v), context = the tokens of encode(c + v) before v}, the tokens
        that are not UTF-8 and complete c's character); None where c cannot be encoded. Cached per c."""
        if run in self._runs:
            return self._runs[run]
        if len(self._runs) >= _STATE_CACHE_LIMIT:
            self._runs.clear()
        alone = encode(run)
        out = None
        if alone is not None:
            groups: dict[tuple[int, ...], list[int]] = {}
            completing = []
            for v, data in zip(self.other_ids.tolist(), self.other_bytes):
                text = (run + data).decode("utf-8", "surrogateescape")
                if not all(0xDC80 <= ord(c) <= 0xDCFF for c in text[:len(run)]):
                    completing.append(v)
                    continue
                ids = encode(run + data)
                if ids and ids[-1] == v:
                    groups.setdefault(tuple(ids[:-1]), []).append(v)
            out = (tuple(alone), {k: np.array(v, dtype=np.int64) for k, v in groups.items()},
                   np.array(completing, dtype=np.int64))
        self._runs[run] = out
        return out

    def kinds(self, state: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """From the automaton state after a pre-token P, over all UTF-8 tokens: those that start a new
        pre-token and are valid alone, those that join P (P + v is one pre-token), and the rows (positions
        in ``utf8_ids``) of those after which P's match ends inside P; cached per state."""
        hit = self._kinds.get(state)
        if hit is None:
            offsets = self.offsets(state)
            tokens = self.utf8_ids
            new_solo = tokens[(offsets == 0) & self.solo[tokens]]
            join = tokens[(offsets == self.n_chars) & (self.n_chars > 0)]
            hit = self._kinds[state] = (new_solo, join, np.flatnonzero(offsets == -1))
        return hit

    def offsets(self, state: int) -> np.ndarray:
        """Per UTF-8 token: where the last match started at P's start ends inside it, from the automaton
        state after P (0..len, -1 where none ends inside it); cached per state."""
        hit = self._offsets.get(state)
        if hit is None:
            if len(self._offsets) >= _STATE_CACHE_LIMIT:
                self._offsets.clear()
                self._kinds.clear()
            hit = self.dfa.last_match_offsets(state, self.flat, self.starts, self.n_chars)
            self._offsets[state] = hit
        return hit


def _after_cut_character(index: VocabIndex, before: bytes, tail: list[int], usable_mask: np.ndarray | None,
                         check_one: Callable[[int], tuple[int, ...] | None], head: bytes,
                         encode: Callable[[bytes], list[int] | None]) -> dict[tuple[int, ...], np.ndarray] | None:
    """Valid last tokens after a text T + c that is UTF-8 but for its last bytes c (a character cut off).

    c is a pre-token of its own (the tokenizer encodes undecodable runs apart), so a UTF-8 token after
    it starts a new run: valid when it is one pre-token and its own encoding. A token v that is not
    UTF-8 and leaves c undecodable is encoded apart from T too: encode(T + c + v) = encode(T) +
    encode(c + v), so it is decided once per c (``VocabIndex.after_run``). A token that completes the
    cut character is re-encoded (a few hundred of a large vocabulary).
    """
    decoded = before.decode("utf-8", "surrogateescape")
    cut = len(decoded)
    while cut and 0xDC80 <= ord(decoded[cut - 1]) <= 0xDCFF:
        cut -= 1
    if not tail or any(0xDC80 <= ord(c) <= 0xDCFF for c in decoded[:cut]):
        return None
    run = decoded[cut:].encode("utf-8", "surrogateescape")
    groups: dict[tuple[int, ...], list[np.ndarray]] = {}
    keep = np.ones(len(index.token_bytes), dtype=bool) if usable_mask is None else usable_mask
    rows, _, others = index.starting_with(head)
    utf8 = index.utf8_ids[rows]
    solo = utf8[index.solo[utf8] & keep[utf8]]
    if solo.size:
        groups[tuple(tail)] = [solo]
    wanted = np.zeros(len(index.token_bytes), dtype=bool)
    wanted[others[keep[others]]] = True
    apart = index.after_run(run, encode)
    if apart is None or len(tail) < len(apart[0]) or tuple(tail[len(tail) - len(apart[0]):]) != apart[0]:
        rechecked = others[wanted[others]]
    else:
        before_run = tuple(tail[:len(tail) - len(apart[0])])
        for context, tokens in apart[1].items():
            tokens = tokens[wanted[tokens]]
            if tokens.size:
                groups.setdefault(before_run + context, []).append(tokens)
        # c and the completed character are one pre-token: v must be built by merges (as for joiners)
        rechecked = apart[2][wanted[apart[2]] & index.merges.formable[apart[2]]]
    for v in rechecked.tolist():
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
               usable_mask: np.ndarray | None, check_one: Callable[[int], tuple[int, ...] | None],
               encode: Callable[[bytes], list[int] | None],
               head: bytes = b"") -> dict[tuple[int, ...], np.ndarray] | None:
    """Valid last tokens right after ``before`` (= context text + tail) among those that start with
    ``head``, grouped by the tokens between the context and them; None where the fast path cannot
    decide (the caller re-encodes).

    ``ids`` = encode(before), which starts with ``ctx_ids``; ``check_one(v)`` re-encodes one token (for
    the few the tables do not cover) and returns its group or None; ``usable_mask``: ids that may be a cover (None: all in the tables).
    """
    dfa = index.dfa
    m = len(ctx_ids)
    tail = ids[m:]
    try:
        text = before.decode("utf-8")
    except UnicodeDecodeError:
        return _after_cut_character(index, before, tail, usable_mask, check_one, head, encode)
    start_rows, raw_ids, _ = index.starting_with(head) if head else (None, index.raw_ids, None)
    if not text and not ids:  # the empty text: a token is valid when it is one pre-token and its own encoding
        solo = np.concatenate([index.utf8_ids if start_rows is None else index.utf8_ids[start_rows], raw_ids])
        solo = solo[index.solo[solo]]
        return {(): solo if usable_mask is None else solo[usable_mask[solo]]}
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
        if usable_mask is not None:
            tokens = tokens[usable_mask[tokens]]
        if tokens.size:
            groups.setdefault(context, []).append(tokens)

    # tokens of undecodable bytes start a pre-token of their own after the whole text
    add(tuple(tail), raw_ids[index.solo[raw_ids]])
    # UTF-8 tokens: the pre-token P (a suffix of `last`) and the tokens before it
    piece, piece_tokens, prefix_ctx = last, tuple(tail[-k:]), base
    rows: np.ndarray | None = start_rows  # None: all UTF-8 tokens
    while rows is None or rows.size:
        state, inner = dfa.run(dfa.classes(piece))
        if state == 0:
            return None
        context = prefix_ctx + piece_tokens
        if rows is None:
            new_solo, join, split = index.kinds(state)
        else:
            offsets = index.offsets(state)[rows]
            n_chars = index.n_chars[rows]
            tokens = index.utf8_ids[rows]
            new = offsets == 0
            new_solo = tokens[new & index.solo[tokens]]
            join = tokens[(offsets == n_chars) & (n_chars > 0)]
            split = rows[offsets == -1]
        add(context, new_solo)
        if join.size:
            x = piece_tokens[-1]
            merges = index.merges
            if merges.regular[x]:
                regular = join[merges.regular[join]]
                add(context, regular[merges.adjacent_to_many(x, regular)])
                odd = join[~merges.regular[join]]
            else:
                odd = join
            # P + v is one pre-token: v ends its encoding only if BPE builds v from its bytes by merges
            # (no merge crossed into v, so v's side merged as it would alone)
            odd = odd[merges.formable[odd]]
            for v in odd.tolist():
                found = check_one(v)
                if found is not None:
                    add(found, np.array([v], dtype=np.int64))
        if not split.size:
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
        rows = split
    return {context: np.concatenate(parts) for context, parts in groups.items()}
