"""Mixture inference end to end: tokenizer file + category samples -> byte proportions of each
category in the tokenizer's training data (Hayase et al., 2024)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from tqdm import tqdm

from tokkit.analysis.mixture.bpe_source import BpeSource, load_bpe_source
from tokkit.analysis.mixture.corpus import CategorySample, category_files, count_words, read_texts
from tokkit.analysis.mixture.lp import LpSolution, solve_mixture_lp
from tokkit.analysis.mixture.replay import PairCounter, replay_merges
from tokkit.errors import InputError
from tokkit.text.merges import apply_merges

DEFAULT_MERGES = 3000
DEFAULT_BYTES_PER_CATEGORY = 5_000_000


@dataclass
class MixtureResult:
    """Inferred byte proportions per category, the raw pair-share weights and run statistics."""

    proportions: dict[str, float]
    pair_share: dict[str, float]
    merges_analysed: int
    merges_absent: int
    merges_unexplained: int
    merge_start: int
    sample_bytes: dict[str, int]
    solver: LpSolution
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        s = self.solver
        return {
            "proportions": self.proportions,
            "pair_share": self.pair_share,
            "merges_analysed": self.merges_analysed,
            "merges_absent": self.merges_absent,
            "merges_unexplained": self.merges_unexplained,
            "merge_start": self.merge_start,
            "sample_bytes": self.sample_bytes,
            "slack_total": s.slack_total,
            "solver": {
                "backend": "HiGHS (highspy, warm-started dual simplex)",
                "simplex_iterations": s.simplex_iterations,
                "cold_starts": s.cold_starts,
                "rounds": s.rounds,
                "constraints_added": s.constraints,
                "binding_rows": s.binding_rows,
                "pair_slack_variables": s.pair_variables,
                "candidate_constraints": s.candidates,
                "merge_slack": s.merge_slack,
                "pair_slack": s.pair_slack,
                "seconds": round(s.seconds, 3),
            },
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def load_categories(
    categories: Mapping[str, str], source: BpeSource, bytes_per_category: int | None, progress: bool = False
) -> list[CategorySample]:
    """Read and pre-tokenize every category's files (``categories``: name -> file, folder or glob);
    every path is checked before any is read, so a typo fails at once."""
    if len(categories) < 2:
        raise InputError("mixture inference needs at least two categories (--category NAME=PATH, repeated)")
    files = {name: category_files(name, path) for name, path in categories.items()}
    show = progress and sys.stderr.isatty()
    samples = []
    for name, paths in files.items():
        total = sum(f.stat().st_size for f in paths)
        total = min(total, bytes_per_category) if bytes_per_category else total
        with tqdm(total=total, desc=f"reading {name}", unit="B", unit_scale=True, file=sys.stderr,
                  disable=not show, leave=False) as bar:
            samples.append(count_words(name, read_texts(paths, bytes_per_category), source.pretokenize, bar.update))
    return samples


def _check_range(source: BpeSource, merges: int, merge_start: int) -> None:
    if merge_start < 0 or merge_start >= len(source.merges):
        raise InputError(f"--merge-start {merge_start} is outside the tokenizer's {len(source.merges)} merges")
    if merges < 1:
        raise InputError("--merges must be at least 1")


def infer_from_samples(
    source: BpeSource,
    samples: list[CategorySample],
    *,
    merges: int = DEFAULT_MERGES,
    merge_start: int = 0,
    progress: bool = False,
) -> MixtureResult:
    """Replay merges ``merge_start .. merge_start + merges`` on the samples and solve the LP."""
    _check_range(source, merges, merge_start)
    names = [s.name for s in samples]
    if len(set(names)) != len(names):
        raise InputError("category names must be unique")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    counter = build_counter(source, samples, merge_start)
    timings["count"] = time.perf_counter() - started
    chosen = source.merges[merge_start : merge_start + merges]
    started = time.perf_counter()
    if not np.all(counter.pair_counts[: counter.n_pairs].any(axis=0)):
        empty = [n for n, live in zip(names, counter.pair_counts[: counter.n_pairs].any(axis=0)) if not live]
        raise InputError(f"categories {', '.join(empty)} have no adjacent symbol pairs left to merge")
    with tqdm(total=len(chosen), desc="replaying merges", unit="merge", file=sys.stderr,
              disable=not (progress and sys.stderr.isatty()), leave=False) as bar:
        record = replay_merges(counter, chosen, normalizer=raw_pair_totals(samples), on_step=lambda _t: bar.update())
    timings["replay"] = time.perf_counter() - started
    if record.absent_merges == len(chosen):
        raise InputError(f"none of the {len(chosen)} merges analysed occurs in any category's sample: the "
                         "categories share nothing with this tokenizer's training data")
    with tqdm(desc="solving the LP", unit="round", file=sys.stderr, disable=not (progress and sys.stderr.isatty()),
              leave=False) as bar:
        solution = solve_mixture_lp(record, on_round=lambda added: (bar.update(), bar.set_postfix(added=added)))
    timings["solve"] = solution.seconds
    # alpha weighs counts normalized per category; bytes of category i scale as alpha_i * bytes_i / pairs_i
    bytes_per_pair = np.array([s.n_bytes for s in samples]) / record.pair_totals
    byte_share = solution.alpha * bytes_per_pair
    byte_share /= byte_share.sum()
    return MixtureResult(
        proportions={n: float(v) for n, v in zip(names, byte_share)},
        pair_share={n: float(v) for n, v in zip(names, solution.alpha)},
        merges_analysed=len(chosen),
        merges_absent=record.absent_merges,
        merges_unexplained=record.unexplained_merges,
        merge_start=merge_start,
        sample_bytes={s.name: s.n_bytes for s in samples},
        solver=solution,
        seconds=timings,
    )


def raw_pair_totals(samples: list[CategorySample]) -> np.ndarray:
    """Each category's adjacent symbol pairs before any merge: the LP's count normalizer.

    It depends on the sample alone, not on the merge range. Normalizing by the pairs left after
    ``merge_start`` merges instead would make categories that those merges cover well (few pairs left)
    cheap to weigh, and bias the answer whenever the counts are noisy.
    """
    return np.array([float(sum(c * (len(w) - 1) for w, c in s.words.items())) for s in samples])


def build_counter(source: BpeSource, samples: list[CategorySample], merge_start: int) -> PairCounter:
    """One word table for all categories (word x category counts), words split into their symbols
    after the first ``merge_start`` merges."""
    vocabulary: dict[str, int] = {}
    for sample in samples:
        for word in sample.words:
            vocabulary.setdefault(word, len(vocabulary))
    counts = np.zeros((len(vocabulary), len(samples)))
    for i, sample in enumerate(samples):
        ids = np.fromiter((vocabulary[w] for w in sample.words), dtype=np.int64, count=len(sample.words))
        counts[ids, i] = np.fromiter(sample.words.values(), dtype=np.float64, count=len(sample.words))
    words = apply_merges(list(vocabulary), source.merges[:merge_start], source.end_of_word_suffix)
    return PairCounter(words, counts)


def infer_mixture(
    tokenizer: str | Path,
    categories: Mapping[str, str],
    *,
    merges: int = DEFAULT_MERGES,
    merge_start: int = 0,
    bytes_per_category: int | None = DEFAULT_BYTES_PER_CATEGORY,
    progress: bool = False,
    **load_options: Any,
) -> MixtureResult:
    """Estimate the byte proportions of ``categories`` (name -> file, folder or glob) in the training
    data of the BPE ``tokenizer``: anything ``tokkit.load`` reads as BPE text (with ``load_options``,
    e.g. ``pattern=`` for an unknown .tiktoken file) or a merges.txt."""
    source = load_bpe_source(tokenizer, **load_options)
    _check_range(source, merges, merge_start)
    started = time.perf_counter()
    samples = load_categories(categories, source, bytes_per_category, progress)
    read_seconds = time.perf_counter() - started
    result = infer_from_samples(source, samples, merges=merges, merge_start=merge_start, progress=progress)
    result.seconds = {"read": read_seconds, **result.seconds}
    return result
