"""Bytes that are not UTF-8 encode as tiktoken's ``_encode_bytes`` by default, on both engines (the HF
engine reimplements the rule; the tiktoken engine calls tiktoken); ``invalid="runs"`` keeps every
invalid run a piece of its own; all of them decode to the input bytes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokkit
from tokkit.text.bpe import BPETokenizer
from text_support import cl100k_path

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXT = st.lists(st.sampled_from(list("ab \n\t東京😀'") + ["<|endoftext|>", "  \n"]), max_size=8).map("".join)


@pytest.fixture(scope="module")
def engines():
    import tiktoken

    fast = tokkit.load(cl100k_path())
    reference = tiktoken.Encoding("cl100k", pat_str=fast.describe()["pattern"],
                                  mergeable_ranks=tokkit.text.tiktoken_files.read_tiktoken_ranks(cl100k_path()),
                                  special_tokens={})
    hf = BPETokenizer.from_ranks(reference._mergeable_ranks, reference._pat_str,
                                 fast.special_tokens, engine="hf")
    return fast, hf, reference


@FAST
@given(head=TEXT, tail=st.binary(min_size=1, max_size=6), after=TEXT)
def test_both_engines_encode_bytes_as_tiktoken(engines, head, tail, after):
    fast, hf, reference = engines
    data = head.encode() + tail + after.encode()
    expected = reference._encode_bytes(data)
    assert fast.encode_ids(data) == expected
    assert hf.encode_ids(data) == expected
    for tok in (fast, hf):
        for special in (False, True):
            for invalid in ("tiktoken", "runs"):
                assert tok.decode(tok.encode(data, special=special, invalid=invalid)) == data


def test_truncated_character_and_surrogates(engines, tmp_path):
    fast, hf, _ = engines
    for tok in (fast, hf):
        assert tok.encode_ids(b" \xec\x8b\xa4\xed") == [62085]  # tiktoken's test_encode_bytes
        assert tok.encode_ids("\ud83d\udc4d") == tok.encode_ids("\U0001f44d") == [9468, 239, 235]
        assert tok.encode_ids(b" \xec\x8b\xa4\xed", invalid="runs") != [62085]  # the last piece stays apart
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9 " * 50)  # files default to the linear-time rule
    assert fast.encode_file(tmp_path / "latin1.txt").codes.tolist() == fast.encode_ids(b"caf\xe9 " * 50, invalid="runs")
