"""Replay a BPE merge list on several categories' word counts at once, recording at each step the
normalized count of the chosen pair and of its strongest competitors (the data the LP needs).

All categories share one table of distinct words (word x category counts); pair counts are a
(pair x category) matrix updated incrementally: an index from each pair to the words that contain it
means a merge touches only those words, as in BPE training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy import sparse

_SHIFT = 24  # pair key = left symbol id << _SHIFT | right symbol id


@dataclass
class ReplayRecord:
    """What the LP needs from a replay of T merges over n categories.

    ``merge_counts``: (T, n) normalized count of each step's merge in each category.
    ``cand_step``, ``cand_pair``: (K,) step index and pair id of every recorded competitor.
    ``cand_counts``: (K, n) normalized counts of those competitors at that step.
    ``pair_totals``: (n,) the normalizer: each category's pair count (by default before the first
    analysed merge).
    """

    merge_counts: np.ndarray
    cand_step: np.ndarray
    cand_pair: np.ndarray
    cand_counts: np.ndarray
    pair_totals: np.ndarray

    @property
    def absent_merges(self) -> int:
        """How many merges occur in no category's sample (they get no constraints)."""
        return int(np.count_nonzero(~self.merge_counts.any(axis=1)))

    @property
    def unexplained_merges(self) -> int:
        """How many merges some recorded pair out-counts in every category: no mixture of these
        categories makes them the most frequent pair, so the samples do not cover their training data."""
        beaten = np.all(self.cand_counts > self.merge_counts[self.cand_step], axis=1)
        return len(np.unique(self.cand_step[beaten]))

    def first_steps(self, steps: int) -> "ReplayRecord":
        """The record of the first ``steps`` merges only (what a replay of that many would record)."""
        keep = self.cand_step < steps
        return ReplayRecord(self.merge_counts[:steps], self.cand_step[keep], self.cand_pair[keep],
                            self.cand_counts[keep], self.pair_totals)


class PairCounter:
    """Words as symbol-id lists, their per-category counts, and live per-category pair counts."""

    def __init__(self, words: Sequence[Sequence[str]], counts: np.ndarray) -> None:
        self.symbol_ids: dict[str, int] = {}
        self.words: list[list[int]] = [[self._symbol(s) for s in word] for word in words]
        self.word_counts = np.asarray(counts, dtype=np.float64)
        self.pair_ids: dict[int, int] = {}
        self.pair_words: list[set[int]] = []
        self.pair_counts = np.zeros((1024, self.word_counts.shape[1]))
        rows: list[int] = []
        cols: list[int] = []
        for w, word in enumerate(self.words):
            for key in self._keys(word):
                p = self._pair(key)
                self.pair_words[p].add(w)
                rows.append(p)
                cols.append(w)
        self._add(np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64), np.ones(len(rows)))

    def _symbol(self, symbol: str) -> int:
        found = self.symbol_ids.get(symbol)
        if found is None:
            found = self.symbol_ids[symbol] = len(self.symbol_ids)
        return found

    @staticmethod
    def _keys(word: list[int]) -> list[int]:
        return [(a << _SHIFT) | b for a, b in zip(word, word[1:])]

    def _pair(self, key: int) -> int:
        found = self.pair_ids.get(key)
        if found is None:
            found = self.pair_ids[key] = len(self.pair_ids)
            self.pair_words.append(set())
            if found >= len(self.pair_counts):
                grown = np.zeros((2 * len(self.pair_counts), self.pair_counts.shape[1]))
                grown[: len(self.pair_counts)] = self.pair_counts
                self.pair_counts = grown
        return found

    def _add(self, pair_rows: np.ndarray, word_cols: np.ndarray, deltas: np.ndarray) -> None:
        """pair_counts[p] += delta * word_counts[w] for every (p, w, delta), duplicates summed."""
        if len(pair_rows) == 0:
            return
        pairs, pair_local = np.unique(pair_rows, return_inverse=True)
        words, word_local = np.unique(word_cols, return_inverse=True)
        change = sparse.csr_matrix((deltas, (pair_local, word_local)), shape=(len(pairs), len(words)))
        self.pair_counts[pairs] += change @ self.word_counts[words]

    @property
    def n_pairs(self) -> int:
        return len(self.pair_ids)

    def pair_id(self, left: str, right: str) -> int | None:
        """The id of the pair (left, right) if it occurs in any word, else None."""
        a, b = self.symbol_ids.get(left), self.symbol_ids.get(right)
        if a is None or b is None:
            return None
        return self.pair_ids.get((a << _SHIFT) | b)

    def merge(self, left: str, right: str) -> np.ndarray:
        """Apply one merge to every word containing the pair; return the ids of pairs whose counts changed.

        Only the pairs next to each merged occurrence change, so only those are updated.
        """
        new = self._symbol(left + right)
        p = self.pair_id(left, right)
        if p is None:
            return np.zeros(0, dtype=np.int64)
        a, b = self.symbol_ids[left], self.symbol_ids[right]
        pair_ids, pair_words, words, new_pair = self.pair_ids, self.pair_words, self.words, self._pair
        removed: list[int] = []
        removed_words: list[int] = []
        added: list[int] = []
        added_words: list[int] = []
        for w in pair_words[p]:
            word = words[w]
            n = len(word)
            out: list[int] = []
            i = 0
            merged_last = False
            while i < n:
                if i + 1 < n and word[i] == a and word[i + 1] == b:
                    removed.append(p)
                    removed_words.append(w)
                    if out:
                        if merged_last:  # ... a b | a b ...: (b, a) becomes (new, new)
                            removed.append(pair_ids[(b << _SHIFT) | a])
                            q = new_pair((new << _SHIFT) | new)
                        else:
                            x = out[-1]
                            removed.append(pair_ids[(x << _SHIFT) | a])
                            q = new_pair((x << _SHIFT) | new)
                        removed_words.append(w)
                        added.append(q)
                        added_words.append(w)
                    if i + 2 < n and not (word[i + 2] == a and i + 3 < n and word[i + 3] == b):
                        y = word[i + 2]
                        removed.append(pair_ids[(b << _SHIFT) | y])
                        removed_words.append(w)
                        added.append(new_pair((new << _SHIFT) | y))
                        added_words.append(w)
                    out.append(new)
                    i += 2
                    merged_last = True
                else:
                    out.append(word[i])
                    i += 1
                    merged_last = False
            words[w] = out
        for q, w in zip(added, added_words):
            pair_words[q].add(w)
        pair_words[p] = set()
        rows = np.asarray(removed + added, dtype=np.int64)
        deltas = np.r_[np.full(len(removed), -1.0), np.ones(len(added))]
        self._add(rows, np.asarray(removed_words + added_words, dtype=np.int64), deltas)
        return np.unique(rows)


class _TopPool:
    """The top-k pairs of each category, kept exactly without sorting every pair at every step.

    The pool holds, for each category, its best ``depth`` pairs at that category's last refresh, plus
    every pair touched since, less the pairs below every category's ceiling. A pair outside the pool is
    untouched since it left, so its count in category j is at most ``ceiling[j]``; when the pool's k-th
    best in j falls below that ceiling, only category j is re-read from all pairs. The pool is rebuilt
    from scratch when it has grown too large.
    """

    def __init__(self, k: int, depth_factor: int = 8) -> None:
        self.k = k
        self.depth = depth_factor * k
        self.pool = np.zeros(0, dtype=np.int64)
        self.ceiling: np.ndarray | None = None

    def _refresh(self, counts: np.ndarray, columns: np.ndarray) -> None:
        """Add each of ``columns``' best ``depth`` pairs to the pool and lower their ceilings to match."""
        assert self.ceiling is not None
        if len(counts) <= self.depth:
            self.pool = np.arange(len(counts))
            self.ceiling[:] = 0.0
            return
        block = counts[:, columns]
        order = np.argpartition(-block, self.depth, axis=0)
        self.ceiling[columns] = np.take_along_axis(block, order[self.depth][None, :], axis=0)[0]
        self.pool = np.union1d(self.pool, order[: self.depth].ravel())

    def top(self, counts: np.ndarray, touched: np.ndarray) -> np.ndarray:
        """Ids of the union over categories of each category's top-k pairs."""
        n = counts.shape[1]
        if self.ceiling is None or len(self.pool) + len(touched) > 4 * self.depth * n:
            self.pool, self.ceiling = np.zeros(0, dtype=np.int64), np.zeros(n)
            self._refresh(counts, np.arange(n))
        else:
            self.pool = np.union1d(self.pool, touched)
        k = min(self.k, len(self.pool))
        if k == 0:
            return self.pool
        block = counts[self.pool]
        best = np.argpartition(-block, k - 1, axis=0)[:k]
        kth = np.take_along_axis(block, best[k - 1 : k], axis=0)[0]
        stale = np.flatnonzero(kth < self.ceiling)  # a pair outside the pool may be in these top k
        if len(stale):
            self._refresh(counts, stale)
            k = min(self.k, len(self.pool))
            block = counts[self.pool]
            best = np.argpartition(-block, k - 1, axis=0)[:k]
        found = np.unique(self.pool[best.ravel()])
        # a pair below every category's ceiling is as good as one outside the pool: dropping it keeps the
        # pool (and every step's partition) small; it comes back when a merge touches it
        self.pool = self.pool[np.any(block >= self.ceiling, axis=1)]
        return found


def replay_merges(
    counter: PairCounter,
    merges: Sequence[tuple[str, str]],
    *,
    competitors: int = 32,
    normalizer: np.ndarray | None = None,
    on_step: Callable[[int], None] | None = None,
) -> ReplayRecord:
    """Replay ``merges`` in order, recording before each one the counts of the merge and of each
    category's ``competitors`` most frequent other pairs, divided by ``normalizer`` (per category;
    default: its pair count before the first of these merges)."""
    n = counter.word_counts.shape[1]
    totals = counter.pair_counts[: counter.n_pairs].sum(axis=0) if normalizer is None else normalizer
    scale = 1.0 / np.where(totals > 0, totals, 1.0)
    pool = _TopPool(competitors + 1)
    merge_counts = np.zeros((len(merges), n))
    steps: list[np.ndarray] = []
    pairs: list[np.ndarray] = []
    values: list[np.ndarray] = []
    touched = np.zeros(0, dtype=np.int64)
    for t, (left, right) in enumerate(merges):
        live = counter.pair_counts[: counter.n_pairs]
        p = counter.pair_id(left, right)
        # a merge found in no sample says nothing about the mixture (its training data is in no
        # category): it gets no constraints, as in the paper
        if p is not None and live[p].any():
            merge_counts[t] = live[p] * scale
            top = pool.top(live, touched)
            touched = np.zeros(0, dtype=np.int64)
            top = top[top != p]
            # a pair that beats the merge in no category can never violate its constraint
            top = top[np.any(live[top] > live[p], axis=1)]
            steps.append(np.full(len(top), t, dtype=np.int64))
            pairs.append(top)
            values.append(live[top] * scale)
        touched = np.union1d(touched, counter.merge(left, right))
        if on_step is not None:
            on_step(t)
    if steps:
        cand_step, cand_pair, cand_counts = np.concatenate(steps), np.concatenate(pairs), np.concatenate(values)
    else:
        cand_step, cand_pair, cand_counts = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, n))
    return ReplayRecord(merge_counts, cand_step, cand_pair, cand_counts, totals)
