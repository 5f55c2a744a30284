"""Which tokens can be adjacent in a BPE encoding, read off the merge structure instead of re-encoding.

For BPE by merge ranks (tiktoken's rule: repeatedly merge the adjacent pair whose concatenation has the
lowest rank, leftmost first), a token sequence inside one pre-token is the encoding of its bytes if and
only if every adjacent pair is (Vieira et al., "Language Models over Canonical Byte-Pair Encodings",
ICML 2025; the same pair test drives GitHub's ``bpe`` crate). Whether a pair (a, b) survives is decided
by walking back through the two merge trees: the rightmost token of ``a``'s side and the leftmost of
``b``'s side change only when a merge on the right spine of ``a`` or the left spine of ``b`` happens, and
the pair is broken exactly when some cross-boundary concatenation is a token whose rank comes before the
merge that ends that state. Ranks are the token ids (tiktoken files, and HF files expressible as ranks).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


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
        # every pair of tokens whose concatenation is a token, sorted by (left, right): rows per left token
        order = np.argsort(np.array(pair_keys, dtype=np.int64), kind="stable")
        self._pair_keys = np.array(pair_keys, dtype=np.int64)[order]
        self._pair_ranks = np.array(pair_ranks, dtype=np.int64)[order]
        self._pair_rows = np.searchsorted(self._pair_keys // max(n, 1), np.arange(n + 1))

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
        """``adjacent(a, b)`` for every regular b in ``candidates`` (ids), vectorized over the candidates.

        The walk of ``_survives`` run for all candidates at once, one level of a's right spine at a time
        (the left token only moves down its spine, so each level is visited once).
        """
        candidates = np.asarray(candidates, dtype=np.int64)
        out = np.zeros(len(candidates), dtype=bool)
        if not self.regular[a] or not len(candidates):
            return out
        spine = [a]
        while self.right[spine[-1]] != spine[-1]:
            spine.append(int(self.right[spine[-1]]))
        rows = np.flatnonzero(self.regular[candidates])
        q = candidates[rows]
        limit = np.full(len(rows), np.iinfo(np.int64).max)
        left = self.left
        for level, p in enumerate(spine):
            keys, ranks = self._partners(p)
            p_leaf = level == len(spine) - 1
            down_rows, down_q = [], []
            while rows.size:
                if len(keys):
                    pos = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
                    ok = ~((keys[pos] == q) & (ranks[pos] < limit))
                    rows, q, limit = rows[ok], q[ok], limit[ok]
                q_leaf = left[q] == q
                if p_leaf:
                    done = q_leaf
                    out[rows[done]] = True
                    move_p = np.zeros(len(rows), dtype=bool)
                else:
                    done = np.zeros(len(rows), dtype=bool)
                    move_p = q_leaf | (p > q)
                if move_p.any():
                    down_rows.append(rows[move_p])
                    down_q.append(q[move_p])
                stay = ~done & ~move_p
                rows, q, limit = rows[stay], q[stay], q[stay] + 1
                q = left[q]
            if not down_rows:
                break
            rows, q = np.concatenate(down_rows), np.concatenate(down_q)
            limit = np.full(len(rows), p)
        return out

    def _partners(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """Sorted ids b such that bytes(p) + bytes(b) is a token, and those tokens' ranks."""
        lo, hi = self._pair_rows[p], self._pair_rows[p + 1]
        return self._pair_keys[lo:hi] - p * len(self.token_bytes), self._pair_ranks[lo:hi]
