"""Mixture inference recovers a known mixture exactly when the samples are the training data's own
word distributions, with and without a merge range."""

from __future__ import annotations

import pytest

from tests.mixture_synthetic import ALPHABETS, category_text, train_tokenizer
from tokkit.analysis.mixture import infer_mixture


@pytest.fixture(scope="module")
def mixture(tmp_path_factory):
    """Three categories; the training data holds 1, 3 and 2 copies of each category's sample text."""
    folder = tmp_path_factory.mktemp("mixture")
    copies = {"ab": 1, "cd": 3, "ef": 2}
    paths, texts = {}, []
    for seed, (name, k) in enumerate(copies.items()):
        text = category_text(ALPHABETS[name], 3000 + 1000 * seed, seed)
        paths[name] = folder / f"{name}.txt"
        paths[name].write_text(text, encoding="utf-8")
        texts += [text] * k
    sizes = {name: len(paths[name].read_bytes()) * k for name, k in copies.items()}
    truth = {name: size / sum(sizes.values()) for name, size in sizes.items()}
    tokenizer = train_tokenizer(texts, 400, folder / "tokenizer.json")
    return tokenizer, {name: str(p) for name, p in paths.items()}, truth


def test_recovers_byte_proportions(mixture):
    tokenizer, categories, truth = mixture
    result = infer_mixture(tokenizer, categories, merges=300)
    for name, share in truth.items():
        assert abs(result.proportions[name] - share) < 1e-3
    assert result.solver.slack_total < 1e-6
    assert sum(result.proportions.values()) == pytest.approx(1.0)


def test_merge_range_still_recovers(mixture):
    tokenizer, categories, truth = mixture
    result = infer_mixture(tokenizer, categories, merges=150, merge_start=100)
    assert result.merge_start == 100 and result.merges_analysed == 150
    for name, share in truth.items():
        assert abs(result.proportions[name] - share) < 1e-3


def test_absent_category_gets_no_weight(mixture, tmp_path):
    """A candidate category that was not in the training data is inferred at (almost) zero."""
    tokenizer, categories, truth = mixture
    other = tmp_path / "gh.txt"
    other.write_text(category_text(ALPHABETS["gh"], 4000, 9), encoding="utf-8")
    result = infer_mixture(tokenizer, {**categories, "gh": str(other)}, merges=300)
    assert result.proportions["gh"] < 1e-3
    for name, share in truth.items():
        assert abs(result.proportions[name] - share) < 1e-3
