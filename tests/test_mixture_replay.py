"""Incremental pair counts equal a full recount after every merge; the LP is always feasible and its
weights lie on the simplex; redundant merges are reduced to the one BPE would make."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokkit.analysis.mixture.bpe_source import dedupe_merges
from tokkit.analysis.mixture.lp import solve_mixture_lp
from tokkit.analysis.mixture.replay import PairCounter, ReplayRecord, replay_merges


def _recount(counter: PairCounter) -> dict[tuple[int, int], np.ndarray]:
    totals: dict[tuple[int, int], np.ndarray] = {}
    for word, counts in zip(counter.words, counter.word_counts):
        for pair, k in Counter(zip(word, word[1:])).items():
            totals[pair] = totals.get(pair, 0) + k * counts
    return totals


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.text(alphabet="abc", min_size=1, max_size=9), min_size=1, max_size=12, unique=True),
    st.integers(0, 2**31 - 1),
)
def test_incremental_counts_match_full_recount(words, seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 5, size=(len(words), 2)).astype(float)
    counter = PairCounter([list(w) for w in words], counts)
    merges = [("a", "b"), ("a", "a"), ("ab", "c"), ("b", "b"), ("aa", "a"), ("c", "ab"), ("bb", "abc")]
    for left, right in merges:
        counter.merge(left, right)
        expected = _recount(counter)
        inverse = {v: k for k, v in counter.symbol_ids.items()}
        for key, p in counter.pair_ids.items():
            pair = (key >> 24, key & ((1 << 24) - 1))
            want = expected.get(pair, np.zeros(2))
            assert np.allclose(counter.pair_counts[p], want), (inverse[pair[0]], inverse[pair[1]])


def test_replay_records_merge_and_competitor_counts():
    counter = PairCounter([list("abab"), list("cd")], np.array([[3.0, 0.0], [0.0, 5.0]]))
    record = replay_merges(counter, [("a", "b"), ("c", "d")])
    # before merge 1: category 0 has ab x6, ba x3 (9 pairs); category 1 has cd x5
    assert np.allclose(record.pair_totals, [9.0, 5.0])
    assert np.allclose(record.merge_counts[0], [6 / 9, 0.0])
    assert np.allclose(record.merge_counts[1], [0.0, 1.0])
    first = record.cand_step == 0
    assert np.allclose(sorted(record.cand_counts[first][:, 1]), [1.0])  # cd beats ab in category 1


def _random_record(rng: np.random.Generator, steps: int, n: int, per_step: int, pairs: int,
                   spread: float) -> ReplayRecord:
    """A replay record of random counts: ``per_step`` competitors a step drawn from ``pairs`` pair ids,
    their counts up to ``spread`` times the merges'."""
    return ReplayRecord(
        merge_counts=rng.random((steps, n)),
        cand_step=np.repeat(np.arange(steps), per_step),
        cand_pair=rng.integers(0, pairs, size=steps * per_step),
        cand_counts=rng.random((steps * per_step, n)) * spread,
        pair_totals=np.ones(n),
    )


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(2, 5), st.integers(0, 2**31 - 1))
def test_lp_is_always_feasible(steps, n, seed):
    record = _random_record(np.random.default_rng(seed), steps, n, per_step=4, pairs=7, spread=2.0)
    solution = solve_mixture_lp(record)
    assert np.all(solution.alpha >= 0) and np.isclose(solution.alpha.sum(), 1.0)
    assert solution.slack_total >= -1e-9
    gap = record.cand_counts - record.merge_counts[record.cand_step]
    assert np.all(gap @ solution.alpha <= solution.slack_total + 1e-7)


@pytest.mark.parametrize("seed", range(4))
def test_lazy_lp_reaches_the_full_lp_optimum(seed):
    """Adding violated rows in batches and dropping non-binding ones ends at the optimum of the LP
    written out with every candidate row at once (solved by scipy's HiGHS)."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    steps, n = 40, 4
    record = _random_record(np.random.default_rng(seed), steps, n, per_step=30, pairs=60, spread=1.3)
    solution = solve_mixture_lp(record, add_per_step=2)
    pairs, pair_var = np.unique(record.cand_pair, return_inverse=True)
    rows = len(record.cand_step)
    gap = record.cand_counts - record.merge_counts[record.cand_step]
    # gap . alpha - v_t - v_p <= 0 for every candidate; variables alpha (n), v_t (steps), v_p (pairs)
    slack_part = coo_matrix((-np.ones(2 * rows), (np.r_[np.arange(rows), np.arange(rows)],
                                                  np.r_[n + record.cand_step, n + steps + pair_var])),
                            shape=(rows, n + steps + len(pairs))).toarray()
    slack_part[:, :n] = gap
    cost = np.r_[np.zeros(n), np.ones(steps + len(pairs))]
    full = linprog(cost, A_ub=slack_part, b_ub=np.zeros(rows), A_eq=np.r_[np.ones(n), np.zeros(steps + len(pairs))][None],
                   b_eq=[1.0], bounds=(0, None), method="highs")
    assert full.status == 0
    assert solution.slack_total == pytest.approx(full.fun, rel=1e-6, abs=1e-9)
    assert solution.binding_rows < rows  # rows were dropped on the way


def test_redundant_merges_keep_the_split_bpe_makes():
    # a converted file lists every split of "abc"; BPE builds it from "ab" + "c" (ab is ranked first)
    merges = [("a", "b"), ("b", "c"), ("a", "bc"), ("ab", "c")]
    kept, removed = dedupe_merges(merges)
    assert kept == [("a", "b"), ("b", "c"), ("ab", "c")]
    assert removed == 1
    assert dedupe_merges([("a", "b"), ("ab", "c")]) == ([("a", "b"), ("ab", "c")], 0)


@pytest.mark.parametrize("k, categories, depth_factor", [(3, 3, 8), (2, 12, 2), (4, 30, 1)])
def test_top_pool_matches_a_full_sort(k, categories, depth_factor):
    from tokkit.analysis.mixture.replay import _TopPool

    rng = np.random.default_rng(0)
    counts = rng.random((200, categories))
    pool = _TopPool(k, depth_factor)
    touched = np.zeros(0, dtype=np.int64)
    for _ in range(80):
        expected = np.unique(np.argsort(-counts, axis=0)[:k].ravel())
        assert np.array_equal(pool.top(counts, touched), expected)
        touched = rng.choice(len(counts), size=5, replace=False)
        counts[touched] *= rng.random((5, 1)) * 1.2  # touched pairs mostly lose counts, some gain
        counts = np.vstack([counts, rng.random((1, categories)) * 0.5])  # a new pair appears
        touched = np.r_[touched, len(counts) - 1]


def test_lp_solves_again_from_scratch_when_a_warm_start_fails(monkeypatch):
    """A warm re-solve that ends in a status other than optimal (HiGHS's "Unknown", seen once on a large
    real run) is solved again from scratch; the answer is the one an untroubled solve gives."""
    import highspy

    from tokkit.analysis.mixture import lp

    record = _random_record(np.random.default_rng(1), 30, 4, per_step=20, pairs=40, spread=1.3)
    expected = solve_mixture_lp(record, add_per_step=2)
    original = lp._SlackModel.__init__
    failures = []

    def flaky_init(self, n, steps):
        original(self, n, steps)
        highs = self.highs

        class Proxy:
            """Every third warm run reports "Unknown"; a run after clearSolver never does."""

            def __init__(self):
                self.runs, self.fail, self.cold = 0, False, False

            def __getattr__(self, name):
                return getattr(highs, name)

            def run(self):
                highs.run()
                self.runs += 1
                self.fail = not self.cold and self.runs % 3 == 0
                self.cold = False
                failures.extend([1] if self.fail else [])

            def getModelStatus(self):
                return highspy.HighsModelStatus.kUnknown if self.fail else highs.getModelStatus()

            def clearSolver(self):
                self.cold = True
                return highs.clearSolver()

        self.highs = Proxy()

    monkeypatch.setattr(lp._SlackModel, "__init__", flaky_init)
    solution = solve_mixture_lp(record, add_per_step=2)
    assert failures and solution.cold_starts == len(failures)
    assert solution.alpha == pytest.approx(expected.alpha, abs=1e-9)
    assert solution.slack_total == pytest.approx(expected.slack_total, rel=1e-9)
