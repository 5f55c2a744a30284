"""Mixture inference recovers a known mixture exactly when the samples are the training data's own
word distributions, with and without a merge range."""

from __future__ import annotations

import pytest

from tests.mixture_synthetic import ALPHABETS, category_text
from tokkit.analysis.mixture.controlled import train_mixture_tokenizer
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
    tokenizer = train_mixture_tokenizer(texts, 400, folder / "tokenizer.json")
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


def test_uncovered_category_leaves_its_merges_out(mixture):
    """Without a candidate for one training category, the merges learnt from it occur in no sample: they
    are skipped and counted, and the covered categories keep their relative shares (to 5e-3: with fewer
    merges constraining them, the feasible shares form a wider interval)."""
    tokenizer, categories, truth = mixture
    full = infer_mixture(tokenizer, categories, merges=300)
    assert full.merges_absent == 0 and full.merges_unexplained == 0
    partial = infer_mixture(tokenizer, {name: categories[name] for name in ("ab", "cd")}, merges=300)
    assert 0 < partial.merges_absent < 300
    covered = truth["ab"] + truth["cd"]
    assert abs(partial.proportions["ab"] - truth["ab"] / covered) < 5e-3


def test_samples_unlike_the_training_data_leave_merges_unexplained(mixture, tmp_path):
    """Samples with other words than the training data: some merges are out-counted in every sample."""
    tokenizer, _, _ = mixture
    others = {}
    for seed, name in enumerate(["first", "second"]):  # the letters of "ab", new lexicons
        others[name] = tmp_path / f"{name}.txt"
        others[name].write_text(category_text(ALPHABETS["ab"], 3000, 50 + seed), encoding="utf-8")
    result = infer_mixture(tokenizer, {name: str(path) for name, path in others.items()}, merges=300)
    assert result.merges_unexplained > 0


@pytest.mark.parametrize("llama2_style", [False, True])
def test_sentencepiece_style_tokenizer(tmp_path, llama2_style):
    """Metaspace words: from a Metaspace pre-tokenizer, or (Llama 2's converted files) from a normalizer
    that writes the boundary mark with no pre-tokenizer at all."""
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    texts = {name: category_text(ALPHABETS[name], 3000, seed).replace("\n", " ")
             for seed, name in enumerate(["ab", "cd"])}
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    alphabet = sorted(set("".join(texts.values())) | {"\u2581"})
    trainer = trainers.BpeTrainer(vocab_size=len(alphabet) + 200, initial_alphabet=alphabet, show_progress=False)
    tokenizer.train_from_iterator([texts["ab"], texts["cd"], texts["cd"]], trainer)
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    if llama2_style:
        config = json.loads(path.read_text())
        config["pre_tokenizer"] = None
        config["normalizer"] = {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"}, {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
        path.write_text(json.dumps(config, ensure_ascii=False))
    categories = {}
    for name, text in texts.items():
        categories[name] = str(tmp_path / f"{name}.txt")
        (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
    result = infer_mixture(path, categories, merges=150)
    share_ab = len(texts["ab"]) / (len(texts["ab"]) + 2 * len(texts["cd"]))
    assert result.proportions["ab"] == pytest.approx(share_ab, abs=1e-3)
    assert result.solver.slack_total < 1e-6
