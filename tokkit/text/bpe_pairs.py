"""Which tokens can be adjacent in a BPE encoding, read off the merge structure instead of re-encoding.

For BPE by merge ranks (tiktoken's rule: repeatedly merge the adjacent pair whose concatenation has the
lowest rank, leftmost first), a token sequence inside one pre-token is the encoding of its bytes if and
only if every adjacent pair is (Vieira et al., "Language Models over Canonical Byte-Pair Encodings",
ICML 2025; the same pair test drives GitHub's ``bpe`` crate). Whether a pair (a, b) survives is decided
by walking back through the two merge trees: the rightmost token of ``a``'s side and the leftmost of
``b``'s side change only when a merge on the right spine of ``a`` or the left spine of ``b`` happens, and
the pair is broken exactly when some cross-boundary concatenation is a token whose rank comes before the
merge that ends that state. Ranks are the token ids (tiktoken files, and HF files expressible as ranks).
For one left token a, the right tokens b it breaks are read off at once: the tokens whose left spine passes
through a given token form one run of a pre-order numbering of the left-spine forest, so the pairs a
breaks are a few runs of that numbering (``MergeTable._broken_runs``), cached per left token.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from tokkit.text.merges import byte_pair_split

#: left tokens whose broken runs are kept (a few kB each)
_FOLLOWERS_LIMIT = 1024


class MergeTable:
    """The last merge of every token (its split), and the adjacent-pair test, for a rank BPE.

    ``token_bytes[i]`` is token i's bytes (b"" for ids to ignore: specials, holes). ``regular[v]``: v is
    made from its own bytes by merges each ranked after the tokens it joins (every token of a trained
    BPE; ``left``/``right`` give its last merge). The pair test is exact for regular tokens; the others
    (a token ranked before one of its parts, as some of Llama 3's added tokens, or one BPE never makes)
    are left to the tokenizer.
    """

    def __init__(self, token_bytes: Sequence[bytes]) -> None:
        self.token_bytes = list(token_bytes)
        n = len(self.token_bytes)
        self.by_bytes: dict[bytes, int] = {}
        for i, data in enumerate(self.token_bytes):
            if data and data not in self.by_bytes:
                self.by_bytes[data] = i
        self.left = np.arange(n, dtype=np.int64)  # a leaf (one byte) is its own split
        self.right = np.arange(n, dtype=np.int64)
        self.regular = np.zeros(n, dtype=bool)
        left, right, regular = self.left, self.right, self.regular
        by_bytes = self.by_bytes
        pair_keys: list[int] = []
        pair_ranks: list[int] = []
        for v, data in enumerate(self.token_bytes):
            if not data or by_bytes[data] != v:
                continue
            if len(data) == 1:
                regular[v] = True
                continue
            found = False
            for k in range(len(data) - 1, 0, -1):
                a, b = by_bytes.get(data[:k]), by_bytes.get(data[k:])
                if a is None or b is None:
                    continue
                pair_keys.append(a * n + b)
                pair_ranks.append(v)
                if found or a >= v or b >= v or not (regular[a] and regular[b]):
                    continue
                if self._survives(a, b, v):
                    left[v], right[v], regular[v] = a, b, True
                    found = True
        #: v is BPE's encoding of its own bytes by merges alone (no whole-piece lookup): regular tokens,
        #: and the irregular ones the merge loop still builds. Only these can end an encoding with other
        #: bytes before them in the same pre-token.
        self.formable = regular.copy()
        for v in np.flatnonzero(~regular).tolist():
            data = self.token_bytes[v]
            if data and by_bytes[data] == v:
                self.formable[v] = byte_pair_split(by_bytes, data) == [data]
        # every pair of tokens whose concatenation is a token, sorted by (left, right): rows per left token
        order = np.argsort(np.array(pair_keys, dtype=np.int64), kind="stable")
        self._pair_keys = np.array(pair_keys, dtype=np.int64)[order]
        self._pair_ranks = np.array(pair_ranks, dtype=np.int64)[order]
        self._pair_rows = np.searchsorted(self._pair_keys // max(n, 1), np.arange(n + 1))
        self._build_left_tree()
        self._followers: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _build_left_tree(self) -> None:
        """The forest parent(v) = left(v) over regular tokens, numbered in pre-order with each node's
        children in rank order: the tokens whose left spine passes through q and then through a child
        ranked at or after some bound are one run of that numbering."""
        n = len(self.token_bytes)
        ids = np.arange(n, dtype=np.int64)
        inner = self.regular & (self.left != ids)
        children, parents = ids[inner], self.left[inner]
        order = np.lexsort((children, parents))
        self._child_ids = children[order]
        self._child_keys = parents[order] * n + self._child_ids
        rows = np.searchsorted(parents[order], np.arange(n + 1))
        pos = np.full(n, -1, dtype=np.int64)
        end = np.full(n, -1, dtype=np.int64)
        child_lists = np.split(self._child_ids, rows[1:-1]) if n else []
        counter = 0
        for root in np.flatnonzero(self.regular & ~inner).tolist():
            stack = [root]
            while stack:
                node = stack.pop()
                if node >= 0:
                    pos[node] = counter
                    counter += 1
                    stack.append(~node)
                    kids = child_lists[node]
                    if len(kids):
                        stack.extend(kids[::-1].tolist())
                else:
                    end[~node] = counter
        self._pos, self._end, self._child_rows = pos, end, rows

    def _survives(self, a: int, b: int, cap: int) -> bool:
        """Whether BPE of bytes(a) + bytes(b) ends as [a, b], counting only tokens ranked below ``cap``."""
        data, by_bytes, left, right = self.token_bytes, self.by_bytes, self.left, self.right
        limit = cap
        p, q = a, b
        while True:
            rank = by_bytes.get(data[p] + data[q])
            if rank is not None and rank < limit:
                return False
            p_leaf, q_leaf = right[p] == p, left[q] == q
            if p_leaf and q_leaf:
                return True
            if not p_leaf and (q_leaf or p > q):
                limit = p  # the state before p was made ended when p was made; a tie goes to p (leftmost)
                p = int(right[p])
            else:
                limit = q + 1  # a cross merge of the same rank as q sits left of q's merge and wins
                q = int(left[q])

    def adjacent(self, a: int, b: int) -> bool:
        """True if regular tokens a, b (in that order) can be adjacent in the BPE encoding of one pre-token."""
        if not (self.regular[a] and self.regular[b]):
            return False
        return self._survives(a, b, len(self.token_bytes) + 1)

    def adjacent_to_many(self, a: int, candidates: np.ndarray) -> np.ndarray:
        """``adjacent(a, b)`` for every b in ``candidates`` (ids), from the runs of the left-spine forest
        that ``a`` breaks (``_broken_runs``, cached per ``a``)."""
        candidates = np.asarray(candidates, dtype=np.int64)
        if not self.regular[a] or not len(candidates):
            return np.zeros(len(candidates), dtype=bool)
        starts, reach = self._broken_runs(a)
        ok = self.regular[candidates]
        if not len(starts):
            return ok
        at = self._pos[candidates]
        j = np.searchsorted(starts, at, side="right") - 1
        broken = (j >= 0) & (reach[np.maximum(j, 0)] > at)
        return ok & ~broken

    def _broken_runs(self, a: int) -> tuple[np.ndarray, np.ndarray]:
        """Runs [start, stop) of the pre-order numbering holding every regular b with (a, b) not adjacent:
        sorted starts and the running maximum of the stops.

        ``_survives(a, b)`` visits the states (p, q) of a's right spine and b's left spine in the order
        of the merges that end them (keys 2p for p, 2q + 1 for q, -1 for a leaf: the larger key steps
        first, a tie of ranks going to q). State (p_i, q_j) is visited when max(K p_i, K q_j) is below
        E = min(K p_(i-1), K q_(j-1)) (infinite before the first step), and it breaks the pair when
        bytes(p_i) + bytes(q_j) is a token of rank r with 2r < E. For fixed p_i and a partner q (p_i + q
        a token), the b broken there are q itself (j = 0) and the b whose left spine steps from a child c
        of q with K c > max(2r, K p_i), i.e. c >= max(r, p_i) (c >= r when p_i is a leaf): the subtrees of
        the children of q from that bound on, one run of the numbering.
        """
        hit = self._followers.get(a)
        if hit is not None:
            return hit
        n = len(self.token_bytes)
        never = np.iinfo(np.int64).max
        regular, left, right = self.regular, self.left, self.right
        starts, stops = [], []
        p, above = a, never  # above: the key of the spine token p was split from
        while True:
            p_leaf = right[p] == p
            q, r = self._partners(p)
            keep = regular[q]
            q, r = q[keep], r[keep]
            key_q = np.where(left[q] == q, -1, 2 * q + 1)
            keep = (2 * r < above) & (key_q < above)
            q, r = q[keep], r[keep]
            if len(q):
                bound = r if p_leaf else np.maximum(r, p)
                k = np.searchsorted(self._child_keys, q * n + bound)
                has = k < self._child_rows[q + 1]
                first = np.where(has, self._pos[self._child_ids[np.minimum(k, len(self._child_ids) - 1)]],
                                 self._end[q]) if len(self._child_ids) else self._end[q]
                starts += [self._pos[q], first]
                stops += [self._pos[q] + 1, self._end[q]]
            if p_leaf:
                break
            above, p = 2 * p, int(right[p])
        if starts:
            s, e = np.concatenate(starts), np.concatenate(stops)
            order = np.argsort(s, kind="stable")
            s, e = s[order], np.maximum.accumulate(e[order])
        else:
            s = e = np.zeros(0, dtype=np.int64)
        if len(self._followers) >= _FOLLOWERS_LIMIT:
            self._followers.clear()
        hit = self._followers[a] = (s, e)
        return hit

    def _partners(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """Sorted ids b such that bytes(p) + bytes(b) is a token, and those tokens' ranks."""
        lo, hi = self._pair_rows[p], self._pair_rows[p + 1]
        return self._pair_keys[lo:hi] - p * len(self.token_bytes), self._pair_ranks[lo:hi]
