"""Mixture inference reads its tokenizers through tokkit.text: every tokenizer ``tokkit.load`` reads (an
unknown .tiktoken with ``pattern=``, a saved folder) gives the answer its equivalent file gives."""

from __future__ import annotations

import base64
import json

import pytest

from tests.mixture_synthetic import ALPHABETS, category_text
from tokkit.analysis.mixture import infer_mixture
from tokkit.analysis.mixture.bpe_source import load_bpe_source
from tokkit.analysis.mixture.controlled import train_mixture_tokenizer
from tokkit.errors import InputError, UnsupportedFormatError
from tokkit.text.bpe import BPETokenizer
from tokkit.text.byte_alphabet import chars_to_bytes
from tokkit.text.tiktoken_files import GPT2_PATTERN


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A byte-level BPE trained on 1 : 2 copies of two categories, and the category files."""
    folder = tmp_path_factory.mktemp("sources")
    texts = {name: category_text(ALPHABETS[name], 2500, seed) for seed, name in enumerate(["ab", "cd"])}
    categories = {}
    for name, text in texts.items():
        categories[name] = str(folder / f"{name}.txt")
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    tokenizer = train_mixture_tokenizer([texts["ab"], texts["cd"], texts["cd"]], 200, folder / "tokenizer.json")
    return folder, tokenizer, categories


def _as_rank_file(tokenizer_json, path):
    """The tokenizer's vocabulary as a .tiktoken rank file (not a known encoding: no pattern of its own)."""
    vocab = json.loads(tokenizer_json.read_text())["model"]["vocab"]
    lines = [base64.b64encode(chars_to_bytes(token)) + b" %d\n" % index
             for token, index in sorted(vocab.items(), key=lambda item: item[1])]
    path.write_bytes(b"".join(lines))
    return path


def test_unknown_tiktoken_file_with_its_pattern(trained, tmp_path):
    """An unknown rank file is read with the pattern the user names, as tokkit.load reads it: its merges
    (recovered from the ranks) and words are the trained file's, so the inference is the same."""
    folder, tokenizer, categories = trained
    ranks = _as_rank_file(tokenizer, tmp_path / "mine.tiktoken")
    with pytest.raises(UnsupportedFormatError, match="not a known tiktoken encoding"):
        load_bpe_source(ranks)
    from_ranks = load_bpe_source(ranks, pattern=GPT2_PATTERN)
    from_json = load_bpe_source(tokenizer)
    assert from_ranks.merges == from_json.merges
    text = (folder / "ab.txt").read_text()
    assert from_ranks.pretokenize(text) == from_json.pretokenize(text)
    expected = infer_mixture(tokenizer, categories, merges=150).proportions
    answer = infer_mixture(ranks, categories, merges=150, pattern=GPT2_PATTERN).proportions
    assert answer == pytest.approx(expected, abs=1e-9)
    sizes = {name: len((folder / f"{name}.txt").read_bytes()) for name in ("ab", "cd")}
    assert answer["ab"] == pytest.approx(sizes["ab"] / (sizes["ab"] + 2 * sizes["cd"]), abs=2e-3)


def test_saved_folder_and_builtin_name(trained, tmp_path):
    folder, tokenizer, categories = trained
    saved = BPETokenizer.from_tokenizer_json(tokenizer.read_text()).save(tmp_path / "saved")
    expected = infer_mixture(tokenizer, categories, merges=150).proportions
    assert infer_mixture(saved, categories, merges=150).proportions == pytest.approx(expected, abs=1e-12)
    builtin = load_bpe_source("text")
    assert len(builtin.merges) > 100 and builtin.pretokenize("hello world")


def test_not_a_text_tokenizer_or_missing(tmp_path):
    with pytest.raises(InputError, match="no such tokenizer file"):
        load_bpe_source(tmp_path / "none.json")
    with pytest.raises(InputError, match="no such tokenizer file"):
        load_bpe_source("no-such-builtin")
