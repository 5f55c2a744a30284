"""Word-frequency tables as mixture categories: writing habits measured on running text, written forms
(leading space, case restored, separators), pre-token counts, wordfreq's tables, and a controlled
recovery from training text sampled from the tables."""

from __future__ import annotations

import numpy as np
import pytest

from tokkit.analysis.mixture.bpe_source import load_bpe_source
from tokkit.analysis.mixture.controlled import sample_training_forms, train_mixture_tokenizer
from tokkit.analysis.mixture.frequency import (
    WritingStats,
    frequency_sample,
    mean_stats,
    wordfreq_table,
    writing_stats,
    written_forms,
)
from tokkit.analysis.mixture.infer import infer_from_samples
from tokkit.errors import InputError

PROSE = "The cat saw the dog and the Cat ran off, far away.\nTHE dog saw a cat (and a bird) in the old tree.\nshort line\n"


def test_writing_stats_measures_case_spacing_and_separators():
    stats = writing_stats(PROSE)
    assert stats.words_measured == 12 + 12  # the two-word line is not prose
    # per-word case counts: "the" lower 3 times, Capitalized once, UPPER once
    assert stats.word_case["the"].tolist() == [3, 1, 1]
    assert stats.word_case["cat"].tolist() == [2, 1, 0]
    assert stats.case_shares == pytest.approx(np.array([21, 2, 1]) / 24)
    # glued: each line's first word, "and" after "(" and nothing else
    assert stats.glued == pytest.approx(3 / 24)
    assert stats.separators == pytest.approx({",": 1 / 24, " (": 1 / 24, ")": 1 / 24, ".\n": 2 / 24})


def test_writing_stats_needs_prose():
    with pytest.raises(InputError, match="prose lines"):
        writing_stats("one two\nthree\n")


def test_written_forms_restore_space_and_case():
    stats = WritingStats(np.array([0.5, 0.3, 0.2]), {"cat": np.array([8.0, 0.0, 0.0])}, 0.25, {", ": 0.1})
    table = {"the": 0.05, "cat": 0.01, "的": 0.02, "00": 0.3}
    forms = written_forms(table, stats, min_frequency=0)
    # a word never seen takes the language's case shares; 75% of its uses have a leading space
    assert forms[" the"] == pytest.approx(0.05 * 0.5 * 0.75)
    assert forms["The"] == pytest.approx(0.05 * 0.3 * 0.25)
    assert forms[" THE"] == pytest.approx(0.05 * 0.2 * 0.75)
    # a word's own counts, smoothed with 2 pseudo-counts of the language's shares
    own = (np.array([8.0, 0.0, 0.0]) + 2 * stats.case_shares) / 10
    assert forms[" Cat"] == pytest.approx(0.01 * own[1] * 0.75)
    # uncased scripts have one spelling; digits are left to the separators
    assert forms["的"] == pytest.approx(0.02 * 0.25) and "的".upper() == "的"
    assert not any("0" in form for form in forms)
    assert forms[", "] == pytest.approx(0.1)
    # the word mass is kept: all forms of a word add up to its frequency
    assert sum(v for k, v in forms.items() if k.strip().lower() == "the") == pytest.approx(0.05)
    glued = written_forms(table, stats, min_frequency=0, glued=1.0)
    assert " the" not in glued and glued["the"] == pytest.approx(0.05 * 0.5)
    assert len(written_forms(table, stats, top_words=1, min_frequency=0)) == 6 + 1  # "the" x 6 forms + separator
    pruned = written_forms(table, stats, min_frequency=0.004)
    assert " THE" in pruned and "THE" not in pruned  # 0.0075 kept, 0.0025 dropped


def test_mean_stats_averages_habits():
    a = WritingStats(np.array([1.0, 0.0, 0.0]), {"x": np.ones(3)}, 0.1, {",": 0.2})
    b = WritingStats(np.array([0.5, 0.5, 0.0]), {}, 0.3, {".": 0.4})
    mean = mean_stats([a, b])
    assert mean.case_shares.tolist() == [0.75, 0.25, 0.0] and mean.glued == pytest.approx(0.2)
    assert mean.separators == pytest.approx({",": 0.1, ".": 0.2}) and not mean.word_case


def test_frequency_sample_counts_pretokens_and_bytes():
    forms = {" hello": 0.5, "world's": 0.25, ", ": 0.25}
    sample = frequency_sample("xx", forms, lambda text: text.replace("'", " '").split(" ") if "'" in text else [text],
                              words=1000)
    assert sample.words == {" hello": 500, "world": 250, "'s": 250, ", ": 250}
    assert sample.n_bytes == 500 * 6 + 250 * 7 + 250 * 2


def test_wordfreq_table_top_words_and_unknown_language():
    table = wordfreq_table("en", top_words=100)
    assert 100 <= len(table) < 200 and max(table, key=table.get) == "the"
    assert all(0 < f < 0.1 for f in table.values())
    with pytest.raises(InputError, match="no 'best' table for 'xx'"):
        wordfreq_table("xx")


def _zipf_table(alphabet: str, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    words = {"".join(rng.choice(list(alphabet), size=rng.integers(2, 8))) for _ in range(300)}
    ranks = np.arange(1, len(words) + 1)
    return dict(zip(sorted(words), 1.0 / ranks / (1.0 / ranks).sum()))


def test_controlled_recovery_from_sampled_tables(tmp_path):
    """A tokenizer trained on text sampled from three tables at known byte shares; the shares come back
    from the tables themselves (tiny scale: 400 merges, 1.5 MB of sampled text)."""
    stats = WritingStats(np.array([0.8, 0.15, 0.05]), {}, 0.2, {", ": 0.05, ".\n": 0.05})
    tables = [written_forms(_zipf_table(alphabet, seed), stats, min_frequency=0)
              for seed, alphabet in enumerate(["abcdefgh", "ijklmnop", "aeiouxyz"])]
    rng = np.random.default_rng(0)
    shares = np.array([0.5, 0.3, 0.2])
    sequences, truth = sample_training_forms(tables, shares, 1_500_000, rng)
    assert truth == pytest.approx(shares, abs=0.01)
    source = load_bpe_source(train_mixture_tokenizer(sequences, 400, tmp_path / "tokenizer.json"))
    samples = [frequency_sample(name, table, source.pretokenize) for name, table in zip("abc", tables)]
    result = infer_from_samples(source, samples, merges=400)
    estimate = np.array([result.proportions[name] for name in "abc"])
    assert np.log10(np.mean((estimate - truth) ** 2)) < -5  # -6.4 when written
    assert result.merges_absent == 0
