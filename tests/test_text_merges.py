"""The one BPE merge core: the batch path (HF's Rust BPE) equals the Python merge loop, and the
every-split merge list of a rank table is ordered as HF files converted from tiktoken are."""

from __future__ import annotations

import numpy as np

from tests.mixture_synthetic import ALPHABETS, category_text
from tokkit.text.merges import apply_merges, dedupe_merges, encode_with_merges, merges_from_ranks


def test_batch_merges_equal_the_python_loop():
    rng = np.random.default_rng(0)
    words = category_text(ALPHABETS["ab"], 3000, 1).split()
    merges: list[tuple[str, str]] = []
    symbols = [list(word) for word in words[:400]]
    for _ in range(60):  # a merge list learned greedily from the words themselves
        pairs = [(a, b) for word in symbols for a, b in zip(word, word[1:])]
        if not pairs:
            break
        pair = pairs[rng.integers(len(pairs))]
        merges.append(pair)
        symbols = [encode_with_merges(word, {pair: 0}) for word in symbols]
    ranks = {pair: index for index, pair in enumerate(merges)}
    assert apply_merges(words, merges) == [encode_with_merges(list(word), ranks) for word in words]
    assert apply_merges(["ab"], [], "</w>") == [["a", "b</w>"]]


def test_every_split_and_dedupe_round_trip():
    ranks = {bytes([b]): b for b in range(256)}
    for token in (b"ab", b"bc", b"abc", b"abcbc"):
        ranks[token] = len(ranks)
    every = merges_from_ranks(ranks, every_split=True)
    assert every == [(b"a", b"b"), (b"b", b"c"), (b"a", b"bc"), (b"ab", b"c"), (b"abc", b"bc")]
    spelled = [(a.decode(), b.decode()) for a, b in every]
    kept, dropped = dedupe_merges(spelled)
    assert dropped == 1
    assert kept == [(a.decode(), b.decode()) for a, b in merges_from_ranks(ranks)]
