"""The mixture linear program of Hayase et al. (2024), solved with HiGHS by lazy constraint generation.

Variables: alpha on the simplex (one weight per category), a slack v_t per merge step and v_p per
competing pair. For every step t and competitor p:
    sum_i alpha_i (c_i,merge(t) - c_i,p) + v_t + v_p >= 0,   minimize sum v_t + sum v_p.
Only violated (t, p) constraints are added, a batch per step and round, and HiGHS re-solves from its
previous basis (dual simplex warm start) until none is violated. Rows that are not binding after a
solve are deleted (and added again if they become violated), so every re-solve stays small.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from tokkit.analysis.mixture.replay import ReplayRecord


@dataclass
class LpSolution:
    """The solved weights (pair share per category), slack total and solver statistics."""

    alpha: np.ndarray
    slack_total: float
    merge_slack: float
    pair_slack: float
    rounds: int
    constraints: int  # rows added over all rounds (a dropped row added again counts twice)
    binding_rows: int  # rows left in the LP at the end
    pair_variables: int
    candidates: int
    simplex_iterations: int
    seconds: float
    cold_starts: int = 0  # re-solves from scratch after a warm start ended in numerical trouble


def solve_mixture_lp(
    record: ReplayRecord,
    *,
    add_per_step: int = 10,
    tolerance: float = 1e-7,
    max_rounds: int = 500,
    on_round: Callable[[int], None] | None = None,
) -> LpSolution:
    """Minimize the total slack by lazy constraint generation; never infeasible (slacks are free).

    ``tolerance`` is in units of the largest count (HiGHS's own feasibility tolerance is 1e-7): a smaller
    one only adds rows HiGHS already counts as satisfied. ``on_round`` gets the number of rows each
    round added."""
    started = time.perf_counter()
    steps, n = record.merge_counts.shape
    # rescale so the largest count is 1: slack sizes then sit well above HiGHS's feasibility tolerance
    scale = float(np.abs(record.merge_counts).max(initial=0.0)) or 1.0
    # a competitor's advantage over the merge per category: the constraint is gap . alpha <= v_t + v_p
    gap = (record.cand_counts - record.merge_counts[record.cand_step]) / scale
    pairs, cand_var = np.unique(record.cand_pair, return_inverse=True)
    model = _SlackModel(n, steps)
    active = np.zeros(len(gap), dtype=bool)
    alpha, v_step, v_pair = np.full(n, 1.0 / n), np.zeros(steps), np.zeros(len(pairs))
    rounds = added = 0
    while rounds < max_rounds:
        violation = gap @ alpha - v_step[record.cand_step] - v_pair[cand_var]
        new = _most_violated(violation, record.cand_step, active, add_per_step, tolerance)
        if len(new) == 0:
            break
        active[new] = True
        rounds += 1
        added += len(new)
        model.add_constraints(new, gap[new], record.cand_step[new], cand_var[new])
        alpha, v_step, v_pair = model.solve(len(pairs))
        active[model.drop_slack_rows(tolerance)] = False
        if on_round is not None:
            on_round(len(new))
    return LpSolution(
        alpha=alpha,
        slack_total=float(v_step.sum() + v_pair.sum()) * scale,
        merge_slack=float(v_step.sum()) * scale,
        pair_slack=float(v_pair.sum()) * scale,
        rounds=rounds,
        constraints=added,
        binding_rows=model.highs.getNumRow() - 1,
        pair_variables=len(model.pair_columns),
        candidates=len(gap),
        simplex_iterations=model.iterations,
        seconds=time.perf_counter() - started,
        cold_starts=model.cold_starts,
    )


@contextmanager
def _stdout_silenced() -> Iterator[None]:
    """HiGHS prints a banner on stdout when created; keep stdout clean for --json."""
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


class _SlackModel:
    """The growing LP in a live HiGHS instance: columns alpha (n), v_t (steps), then v_p as pairs appear."""

    def __init__(self, n: int, steps: int) -> None:
        import highspy

        with _stdout_silenced():
            self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.inf = highspy.kHighsInf
        self.n, self.steps = n, steps
        self.pair_columns: dict[int, int] = {}
        self.row_candidates = np.zeros(0, dtype=np.int64)  # the candidate behind each row after the first
        self.iterations = 0
        self.cold_starts = 0  # re-solves from scratch after a warm start failed
        width = n + steps
        cost = np.r_[np.zeros(n), np.ones(steps)]
        self.highs.addCols(width, cost, np.zeros(width), np.full(width, self.inf), 0,
                           np.zeros(width, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0))
        self.highs.addRows(1, np.ones(1), np.ones(1), n, np.zeros(1, dtype=np.int32),
                           np.arange(n, dtype=np.int32), np.ones(n))

    def add_constraints(self, candidates: np.ndarray, gap: np.ndarray, step: np.ndarray, pair: np.ndarray) -> None:
        """Rows -gap . alpha + v_t + v_p >= 0 for ``candidates``, adding a column for each pair seen for the
        first time."""
        self.row_candidates = np.r_[self.row_candidates, candidates]
        fresh = [int(p) for p in np.unique(pair) if int(p) not in self.pair_columns]
        if fresh:
            first = self.n + self.steps + len(self.pair_columns)
            for offset, p in enumerate(fresh):
                self.pair_columns[p] = first + offset
            k = len(fresh)
            self.highs.addCols(k, np.ones(k), np.zeros(k), np.full(k, self.inf), 0,
                               np.zeros(k, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0))
        rows, n = len(gap), self.n
        pair_col = np.array([self.pair_columns[int(p)] for p in pair], dtype=np.int32)
        index = np.concatenate([np.tile(np.arange(n), (rows, 1)),
                                (n + step)[:, None], pair_col[:, None]], axis=1).astype(np.int32)
        value = np.concatenate([-gap, np.ones((rows, 2))], axis=1)
        starts = np.arange(rows, dtype=np.int32) * (n + 2)
        self.highs.addRows(rows, np.zeros(rows), np.full(rows, self.inf), index.size, starts,
                           index.ravel(), value.ravel())

    def solve(self, n_pairs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Re-solve from the last basis; return alpha (renormalized), v_t and v_p (indexed by pair)."""
        import highspy

        self.highs.run()
        status = self.highs.getModelStatus()
        # a warm start after many added and deleted rows can end in numerical trouble (status "Unknown",
        # seen once on 51 categories of cl100k): solve again from scratch, then with the primal simplex
        for retry in ("cold", "primal"):
            if status == highspy.HighsModelStatus.kOptimal:
                break
            self.cold_starts += 1
            self.highs.clearSolver()
            if retry == "primal":
                self.highs.setOptionValue("simplex_strategy", 4)
            self.highs.run()
            status = self.highs.getModelStatus()
            self.highs.setOptionValue("simplex_strategy", 1)
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"HiGHS did not solve the mixture LP: {self.highs.modelStatusToString(status)}")
        self.iterations += int(self.highs.getInfo().simplex_iteration_count)
        x = np.asarray(self.highs.getSolution().col_value)
        alpha = np.clip(x[: self.n], 0.0, None)
        alpha /= alpha.sum()
        v_pair = np.zeros(n_pairs)
        for p, column in self.pair_columns.items():
            v_pair[p] = x[column]
        return alpha, x[self.n : self.n + self.steps], v_pair

    def drop_slack_rows(self, tolerance: float) -> np.ndarray:
        """Delete the rows not binding at the current solution and return their candidates.

        Their slacks are basic, so the basis stays valid and the solution stays optimal; a dropped row
        that becomes violated later is added again. This keeps every re-solve small.
        """
        activity = np.asarray(self.highs.getSolution().row_value)[1:]
        slack = np.flatnonzero(activity > tolerance)
        if len(slack) == 0:
            return slack
        self.highs.deleteRows(len(slack), (slack + 1).astype(np.int32))
        dropped = self.row_candidates[slack]
        self.row_candidates = np.delete(self.row_candidates, slack)
        return dropped


def _most_violated(
    violation: np.ndarray, step: np.ndarray, active: np.ndarray, per_step: int, tolerance: float
) -> np.ndarray:
    """Indices of the ``per_step`` most violated inactive constraints of every step."""
    open_ = np.flatnonzero((violation > tolerance) & ~active)
    if len(open_) == 0:
        return open_
    order = open_[np.lexsort((-violation[open_], step[open_]))]
    first = np.r_[0, np.flatnonzero(np.diff(step[order])) + 1]
    rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
    return order[rank < per_step]
