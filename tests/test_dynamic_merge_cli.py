"""`tokkit encode --dynamic-merges`: shorter token files, statistics, and decode restores the bytes."""

from __future__ import annotations

import json

import pytest
from byte_tokenizer import KIND, ByteTokenizer

from bytelm_support import make_tokenizer, tokenizer_json
from tokkit.core import registry

TEXTS = {"a.txt": "the cat sat on the mat. then the cats ran!\n", "b.txt": "the theme: that is that, isn't it? the cats\n"}


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "tokenizer.json").write_text(tokenizer_json("gpt2"), encoding="utf-8")
    for name, text in TEXTS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_merged_files_are_shorter_and_decode_exactly(inputs, run_cli):
    tok = str(inputs / "tokenizer.json")
    code, out, err = run_cli("encode", inputs / "a.txt", inputs / "b.txt", "-t", tok, "--dynamic-merges", "all")
    assert code == 0, err
    lines = out.decode().splitlines()
    base = make_tokenizer("gpt2")
    before = [len(base.encode_ids(t.encode())) for t in TEXTS.values()]
    for line, n in zip(lines, before):
        assert f"(from {n} before merging)" in line
    assert lines[-1].startswith("dynamic merges: ") and f"{sum(before)} -> " in lines[-1]
    for name, text in TEXTS.items():
        code, decoded, err = run_cli("decode", inputs / name.replace(".txt", ".tok"), "-t", tok)
        assert code == 0, err
        assert decoded == text.encode()


def test_json_statistics_and_merge_count(inputs, run_cli):
    tok = str(inputs / "tokenizer.json")
    code, out, err = run_cli("encode", inputs / "a.txt", inputs / "b.txt", "-t", tok, "--dynamic-merges", "3", "--json")
    assert code == 0, err
    rows = [json.loads(line) for line in out.decode().splitlines()]
    stats = rows[-1]["dynamic_merges"]
    assert stats["merges"] == 3
    assert stats["total_before"] == sum(r["tokens_before_merging"] for r in rows[:-1])
    assert stats["total_after"] == sum(r["tokens"] for r in rows[:-1]) < stats["total_before"]
    assert max(max(r["ids"]) for r in rows[:-1]) >= make_tokenizer("gpt2").vocab_size


def test_bad_merge_options_give_one_line_errors(inputs, run_cli, monkeypatch, tmp_path):
    tok = str(inputs / "tokenizer.json")
    code, _, err = run_cli("encode", inputs / "a.txt", "-t", tok, "--dynamic-merges", "many", "--json")
    assert code != 0 and err.startswith("tokkit: error: --dynamic-merges takes a number")
    code, _, err = run_cli("encode", inputs / "a.txt", "-t", tok, "--dynamic-merges", "-2", "--json")
    assert code != 0 and "must be >= 0" in err
    monkeypatch.setitem(registry.KIND_LOADERS, KIND, "byte_tokenizer:load_saved")
    ByteTokenizer().save(tmp_path / "bytetok")
    code, _, err = run_cli("encode", inputs / "a.txt", "-t", tmp_path / "bytetok", "--dynamic-merges", "2", "--json")
    assert code != 0 and "needs a text BPE tokenizer" in err and len(err.strip().splitlines()) == 1
