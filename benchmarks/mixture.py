"""Controlled experiment for `tokkit infer-mixture` (Hayase et al., 2024, section 4) at this machine's
scale: draw n categories and a mixture alpha uniformly from the simplex, train an HF BPE tokenizer
(Digits + ByteLevel pre-tokenizer, as in the paper) on that mixture, infer alpha from disjoint samples
of each category, and print log10 MSE per trial and the mean, beside the random-guess and
tokenizer-encoding-efficiency (TEE) baselines and the paper's figures.

Data: see benchmarks/mixture_data.py (gettext catalogs and man pages for languages, source files on
this machine for code; nothing downloaded; cached under ~/.cache/tokkit/mixture-bench).

    python benchmarks/mixture.py --kind languages --n 5 --trials 5
    python benchmarks/mixture.py --kind languages --n 10 --trials 5
    python benchmarks/mixture.py --kind code --n 5 --trials 5
    python benchmarks/mixture.py --kind languages --n 5 --trials 3 --sweep   # accuracy vs data size and T
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import mixture_data  # noqa: E402

from tokkit.analysis.mixture.bpe_source import load_bpe_source  # noqa: E402
from tokkit.analysis.mixture.corpus import count_words  # noqa: E402
from tokkit.analysis.mixture.infer import infer_from_samples  # noqa: E402
from tokkit.analysis.mixture.controlled import train_mixture_tokenizer  # noqa: E402

#: log10 MSE, mean of 100 trials, 1 GB per category, T = 3000 (Hayase et al., 2024, Table 1)
PAPER = {("languages", 5): (-7.30, -1.39), ("languages", 10): (-7.66, -1.84), ("code", 5): (-6.46, -1.39)}
TARGET = {("languages", 5): -5.0, ("languages", 10): -5.0, ("code", 5): -4.5}
SWEEP_SIZES = (0.5e6, 1.5e6, 5e6)  # inference bytes per category
SWEEP_MERGES = (300, 1000, 3000, 10000)


def _prefix(text: str, n_bytes: int) -> str:
    return text.encode("utf-8")[:n_bytes].decode("utf-8", errors="ignore")


def run_trial(kind: str, n: int, trial: int, merges: int, train_bytes: int, infer_bytes: int, seed: int,
              folder: Path) -> dict:
    rng = np.random.default_rng([seed, n, trial, 0 if kind == "languages" else 1])
    pool = mixture_data.LANGUAGES if kind == "languages" else list(mixture_data.CODE)
    names = [str(c) for c in rng.choice(pool, size=n, replace=False)]
    alpha = rng.dirichlet(np.ones(n))
    train_pool = [mixture_data.category_text(c, "train") for c in names]
    sizes = np.array([len(t.encode("utf-8")) for t in train_pool])
    total = min(train_bytes, float(np.min(sizes / alpha)))
    texts = [_prefix(t, int(a * total)) for t, a in zip(train_pool, alpha)]
    used = np.array([len(t.encode("utf-8")) for t in texts], dtype=float)
    truth = used / used.sum()
    started = time.perf_counter()
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(train_mixture_tokenizer(texts, merges, folder / "tokenizer.json")))
    train_seconds = time.perf_counter() - started
    source = load_bpe_source(folder / "tokenizer.json")
    infer_texts = [_prefix(mixture_data.category_text(c, "infer"), infer_bytes) for c in names]
    started, cpu_started = time.perf_counter(), time.process_time()
    samples = [count_words(c, [t], source.pretokenize) for c, t in zip(names, infer_texts)]
    result = infer_from_samples(source, samples, merges=merges)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    estimate = np.array([result.proportions[c] for c in names])
    # TEE baseline: bytes per token of each category's sample, normalized to sum to one
    efficiency = np.array([len(t.encode("utf-8")) / max(1, sum(len(e.ids) for e in tokenizer.encode_batch(t.splitlines())))
                           for t in infer_texts])
    tee = efficiency / efficiency.sum()
    guess = rng.dirichlet(np.ones(n))
    return {
        "names": names, "truth": truth, "estimate": estimate,
        "mse": float(np.mean((estimate - truth) ** 2)),
        "tee": float(np.mean((tee - truth) ** 2)), "random": float(np.mean((guess - truth) ** 2)),
        "train_mb": used.sum() / 1e6, "infer_mb": float(np.mean([s.n_bytes for s in samples])) / 1e6,
        "seconds": seconds, "cpu_seconds": cpu_seconds, "train_seconds": train_seconds, "slack": result.solver.slack_total,
        "rounds": result.solver.rounds, "timings": result.seconds,
    }


def run_setting(kind: str, n: int, trials: int, merges: int, train_bytes: int, infer_bytes: int, seed: int,
                verbose: bool = True) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for trial in range(trials):
            row = run_trial(kind, n, trial, merges, train_bytes, infer_bytes, seed, Path(tmp))
            rows.append(row)
            if verbose:
                print(f"  trial {trial}: log10 MSE {np.log10(row['mse']):6.2f} | TEE {np.log10(row['tee']):6.2f} | "
                      f"random {np.log10(row['random']):6.2f} | train {row['train_mb']:.1f} MB, infer {row['infer_mb']:.1f} MB/cat | "
                      f"count+replay+solve {row['seconds']:.0f} s wall, {row['cpu_seconds']:.0f} s CPU (HF training {row['train_seconds']:.0f} s) | "
                      f"{','.join(row['names'])}", flush=True)
    # the paper averages log10 MSE over trials
    mean = {key: float(np.mean([np.log10(r[key]) for r in rows])) for key in ("mse", "tee", "random")}
    mean["seconds_max"] = max(r["seconds"] for r in rows)
    mean["cpu_seconds_max"] = max(r["cpu_seconds"] for r in rows)
    return mean


def sweep(kind: str, n: int, trials: int, train_bytes: int, seed: int) -> None:
    """Mean log10 MSE against inference sample size and T: one tokenizer (T = 3000) per trial, one replay
    per sample size, the LP solved on the first T merges for each T."""
    sizes, merge_counts = SWEEP_SIZES, SWEEP_MERGES
    errors: dict[tuple[float, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for trial in range(trials):
            rng = np.random.default_rng([seed, n, trial, 0 if kind == "languages" else 1])
            pool = mixture_data.LANGUAGES if kind == "languages" else list(mixture_data.CODE)
            names = [str(c) for c in rng.choice(pool, size=n, replace=False)]
            alpha = rng.dirichlet(np.ones(n))
            train_pool = [mixture_data.category_text(c, "train") for c in names]
            total = min(train_bytes, float(np.min(np.array([len(t.encode("utf-8")) for t in train_pool]) / alpha)))
            texts = [_prefix(t, int(a * total)) for t, a in zip(train_pool, alpha)]
            used = np.array([len(t.encode("utf-8")) for t in texts], dtype=float)
            truth = used / used.sum()
            train_mixture_tokenizer(texts, max(merge_counts), Path(tmp) / "tokenizer.json")
            source = load_bpe_source(Path(tmp) / "tokenizer.json")
            for size in sizes:
                samples = [count_words(c, [_prefix(mixture_data.category_text(c, "infer"), int(size))],
                                       source.pretokenize) for c in names]
                for merges, estimate in estimates_by_prefix(source, samples, merge_counts).items():
                    errors.setdefault((size, merges), []).append(float(np.log10(np.mean((estimate - truth) ** 2))))
    print(f"{kind}, n={n}, {trials} trials, training data <= {train_bytes / 1e6:.1f} MB: mean log10 MSE")
    print("infer MB/cat " + " ".join(f"{'T=' + str(t):>8}" for t in merge_counts))
    for size in sizes:
        print(f"{size / 1e6:>12.1f} " + " ".join(f"{np.mean(errors[(size, t)]):>8.2f}" for t in merge_counts))


def estimates_by_prefix(source, samples, merge_counts) -> dict[int, np.ndarray]:
    """Byte-share estimates from one replay of max(merge_counts) merges, the LP solved per prefix."""
    from tokkit.analysis.mixture.infer import build_counter
    from tokkit.analysis.mixture.lp import solve_mixture_lp
    from tokkit.analysis.mixture.replay import replay_merges

    record = replay_merges(build_counter(source, samples, 0), source.merges[: max(merge_counts)])
    bytes_per_pair = np.array([s.n_bytes for s in samples]) / record.pair_totals
    out = {}
    for merges in merge_counts:
        alpha = solve_mixture_lp(record.first_steps(merges)).alpha * bytes_per_pair
        out[merges] = alpha / alpha.sum()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=["languages", "code"], default="languages")
    parser.add_argument("--n", type=int, default=5, help="categories per trial")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--merges", type=int, default=3000, help="T, merges trained and analysed")
    parser.add_argument("--train-bytes", type=float, default=10e6, help="tokenizer training data (at most)")
    parser.add_argument("--infer-bytes", type=float, default=5e6, help="inference sample per category (at most)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sweep", action="store_true", help="accuracy vs inference data size and T")
    args = parser.parse_args()
    if args.sweep:
        sweep(args.kind, args.n, args.trials, int(args.train_bytes), args.seed)
        return
    print(f"{args.kind}, n={args.n}, T={args.merges}, {args.trials} trials, training data <= "
          f"{args.train_bytes / 1e6:.0f} MB, inference <= {args.infer_bytes / 1e6:.1f} MB per category")
    mean = run_setting(args.kind, args.n, args.trials, args.merges, int(args.train_bytes), int(args.infer_bytes),
                       args.seed)
    paper = PAPER.get((args.kind, args.n))
    target = TARGET.get((args.kind, args.n))
    print(f"mean log10 MSE: ours {mean['mse']:.2f} | TEE {mean['tee']:.2f} | random {mean['random']:.2f} | "
          f"slowest trial {mean['seconds_max']:.0f} s wall, {mean['cpu_seconds_max']:.0f} s CPU")
    if paper:
        print(f"paper (100 trials, 1 GB/category): ours {paper[0]:.2f} | random {paper[1]:.2f}; "
              f"target here <= {target:.1f}: {'met' if mean['mse'] <= target else 'NOT met'}")


if __name__ == "__main__":
    main()
