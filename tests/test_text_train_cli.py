"""``tokkit train-bpe`` and the shipped default text tokenizer."""

from __future__ import annotations

import json

import pytest

import tokkit
from tokkit.cli.main import main
from text_support import MIXED_SAMPLES, stdlib_text


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
        raise SystemExit(0)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


@pytest.fixture()
def corpus(tmp_path):
    first = tmp_path / "a.txt"
    first.write_text(stdlib_text(80_000), encoding="utf-8")
    second = tmp_path / "b.txt"
    second.write_bytes("\n".join(MIXED_SAMPLES).encode() * 20 + b"\xff\xfe not utf-8\n")
    return [str(first), str(second)]


@pytest.mark.parametrize("style", ["llama3", "gpt2"])
def test_train_writes_a_fast_exact_tokenizer(corpus, tmp_path, capsys, style):
    out = tmp_path / "tok.json"
    code, stdout, _ = run_cli(["train-bpe", *corpus, "--vocab-size", "400", "-o", str(out), "--style", style], capsys)
    assert code == 0
    summary = json.loads(stdout)
    assert summary["vocab_size"] == 400 and summary["engine"] == "tiktoken"
    tok = tokkit.load(out)
    from tokenizers import Tokenizer

    hf = Tokenizer.from_file(str(out))
    text = stdlib_text(30_000)
    assert tok.encode_ids(text) == hf.encode(text, add_special_tokens=False).ids
    assert tok.decode(tok.encode(b"\xff anything \x00")) == b"\xff anything \x00"


def test_train_to_a_folder_and_refuse_overwrite(corpus, tmp_path, capsys):
    folder = tmp_path / "mine"
    code, _, _ = run_cli(["train-bpe", *corpus, "--vocab-size", "300", "-o", str(folder)], capsys)
    assert code == 0 and (folder / "config.json").is_file()
    assert tokkit.load(folder).vocab_size == 300
    code, _, err = run_cli(["train-bpe", *corpus, "--vocab-size", "300", "-o", str(folder)], capsys)
    assert code != 0 and "--force" in err
    assert err.strip().startswith("tokkit: error:") and len(err.strip().splitlines()) == 1
    code, _, _ = run_cli(["train-bpe", *corpus, "--vocab-size", "300", "-o", str(folder), "--force"], capsys)
    assert code == 0


@pytest.mark.parametrize("bad, message", [
    (["missing.txt"], "no such file"),
    (["{empty}"], "empty"),
    (["{dir}"], "directory"),
])
def test_train_bad_inputs(tmp_path, capsys, bad, message):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    files = [item.format(empty=empty, dir=tmp_path) if "{" in item else str(tmp_path / item) for item in bad]
    code, _, err = run_cli(["train-bpe", *files, "--vocab-size", "300", "-o", str(tmp_path / "x.json")], capsys)
    assert code != 0 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.json").exists()


def test_vocab_below_bytes_plus_specials_is_refused(corpus, tmp_path, capsys):
    code, _, err = run_cli(["train-bpe", *corpus, "--vocab-size", "258", "--special", "<a>", "--special", "<b>",
                            "-o", str(tmp_path / "x.json")], capsys)
    assert code != 0 and "vocab-size" in err


def test_default_text_tokenizer_is_shipped_and_exact():
    tok = tokkit.load("text")
    assert tok.vocab_size == 8192 and tok.engine == "tiktoken" and tok.modality == "text"
    for sample in MIXED_SAMPLES + [stdlib_text(20_000)]:
        assert tok.decode(tok.encode(sample)) == sample.encode()
    assert tok.decode(tok.encode(bytes(range(256)))) == bytes(range(256))
    assert len(tok.encode(stdlib_text(50_000))) < 50_000 / 2.5  # it compresses real text
