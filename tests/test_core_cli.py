"""The modality-independent CLI (encode, decode, info) and its error policy, on a one-byte-per-token tokenizer."""

from __future__ import annotations

import json

import pytest
from byte_tokenizer import KIND, ByteTokenizer
from cli_helpers import one_error_line

import tokkit
from tokkit.core import registry


@pytest.fixture
def byte_tok(tmp_path, monkeypatch):
    monkeypatch.setitem(registry.KIND_LOADERS, KIND, "byte_tokenizer:load_saved")
    folder = tmp_path / "bytetok"
    ByteTokenizer().save(folder)
    return str(folder)



def test_encode_decode_round_trip(tmp_path, byte_tok, run_cli):
    src = tmp_path / "a.txt"
    src.write_bytes(b"hello \xff world\n")
    code, out, err = run_cli("encode", src, "-t", byte_tok)
    assert code == 0, err
    assert b"a.tok: 14 tokens, 8 bits/token, 14 bytes" in out
    code, out, err = run_cli("decode", tmp_path / "a.tok")  # a path named inside a token file needs -t
    assert code != 0 and f"pass -t {tokkit.load(byte_tok).name}" in one_error_line(err)
    code, out, err = run_cli("decode", tmp_path / "a.tok", "-t", byte_tok)
    assert code == 0, err
    assert out == b"hello \xff world\n"


def test_many_inputs_into_one_file_and_folder_decode(tmp_path, byte_tok, run_cli):
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"f{i}.txt")
        paths[-1].write_text("x" * (i + 1))
    code, _, err = run_cli("encode", *paths, "-t", byte_tok, "-o", tmp_path / "all.tok")
    assert code == 0, err
    assert [len(t) for t in tokkit.load_tokens(tmp_path / "all.tok")] == [1, 2, 3]
    code, _, err = run_cli("decode", tmp_path / "all.tok", "-o", tmp_path / "out", "-t", byte_tok)
    assert code == 0, err
    assert sorted(p.read_text() for p in (tmp_path / "out").iterdir()) == ["x", "xx", "xxx"]


def test_json_output_and_stdin(byte_tok, run_cli):
    code, out, err = run_cli("encode", "-", "-t", byte_tok, "--json", stdin=b"AB")
    assert code == 0, err
    record = json.loads(out)
    assert record["ids"] == [65, 66] and record["tokens"] == 2 and record["output"] is None


def test_info_on_token_file_and_tokenizer(tmp_path, byte_tok, run_cli):
    (tmp_path / "a.txt").write_text("abcd")
    run_cli("encode", tmp_path / "a.txt", "-t", byte_tok)
    code, out, _ = run_cli("info", tmp_path / "a.tok", "--json")
    facts = json.loads(out)
    assert code == 0 and facts["tokens"] == 4 and facts["bits_per_token"] == 8 and facts["source_bytes"] == 4
    code, out, _ = run_cli("info", byte_tok, "--json")
    assert code == 0 and json.loads(out)["codebook_size"] == 256


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "unknown_format", "stdin_without_output"])
def test_bad_inputs_give_one_line(tmp_path, byte_tok, run_cli, case):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "weird.xyz").write_text("?")
    (tmp_path / "ok.txt").write_text("ok")
    args = {
        "missing": ["encode", tmp_path / "nope.txt", "-t", byte_tok],
        "directory": ["encode", tmp_path, "-t", byte_tok],
        "empty": ["encode", tmp_path / "empty.txt", "-t", byte_tok],
        "unknown_format": ["encode", tmp_path / "ok.txt", "-t", tmp_path / "weird.xyz"],
        "stdin_without_output": ["encode", "-", "-t", byte_tok],
    }[case]
    code, out, err = run_cli(*args)
    assert code != 0
    one_error_line(err)
    assert not (tmp_path / "ok.tok").exists() and not (tmp_path / "empty.tok").exists()


def test_existing_output_needs_force(tmp_path, byte_tok, run_cli):
    (tmp_path / "a.txt").write_text("new")
    (tmp_path / "a.tok").write_bytes(b"precious")
    code, _, err = run_cli("encode", tmp_path / "a.txt", "-t", byte_tok)
    assert code != 0 and "--force" in one_error_line(err)
    assert (tmp_path / "a.tok").read_bytes() == b"precious"
    code, _, err = run_cli("encode", tmp_path / "a.txt", "-t", byte_tok, "--force")
    assert code == 0, err
    assert tokkit.load_tokens(tmp_path / "a.tok").tolist() == list(b"new")


def test_tokens_from_another_tokenizer_are_refused(tmp_path, byte_tok, run_cli):
    (tmp_path / "a.txt").write_text("abc")
    run_cli("encode", tmp_path / "a.txt", "-t", byte_tok)
    other = tmp_path / "other"
    ByteTokenizer(salt="different").save(other)
    code, out, err = run_cli("decode", tmp_path / "a.tok", "-t", other)
    assert code != 0 and out == b""
    assert "hash" in one_error_line(err)


def test_corrupt_token_file(tmp_path, byte_tok, run_cli):
    (tmp_path / "a.txt").write_text("abc")
    run_cli("encode", tmp_path / "a.txt", "-t", byte_tok)
    data = bytearray((tmp_path / "a.tok").read_bytes())
    data[-1] ^= 1
    (tmp_path / "a.tok").write_bytes(bytes(data))
    code, _, err = run_cli("decode", tmp_path / "a.tok")
    assert code != 0 and "corrupted" in one_error_line(err)


def test_options_a_tokenizer_does_not_take_are_refused(tmp_path, byte_tok, run_cli):
    (tmp_path / "a.txt").write_text("abc")
    code, _, err = run_cli("encode", tmp_path / "a.txt", "-t", byte_tok, "--device", "cpu")
    assert code != 0 and "device" in one_error_line(err)
    assert not (tmp_path / "a.tok").exists()


def test_folder_mode_refuses_options_the_tokenizer_lacks(tmp_path, byte_tok, run_cli):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("abc")
    code, _, err = run_cli("encode", tmp_path / "in", "-t", byte_tok, "--out-dir", tmp_path / "out", "--tokens", "4")
    assert code != 0 and "no encode option 'tokens'" in one_error_line(err)
    assert not (tmp_path / "out").exists()
    code, _, err = run_cli("encode", tmp_path / "in", "-t", byte_tok, "--out-dir", tmp_path / "out", "--device", "cpu")
    assert code != 0 and "--device" in one_error_line(err)
