"""The generic CLI (encode, decode, info) with text tokenizers: exact round trips and one-line errors."""

from __future__ import annotations

import json

from text_support import cl100k_path, llama3_path


def test_round_trip_with_each_text_tokenizer(run_cli, tmp_path):
    source = tmp_path / "notes.txt"
    source.write_bytes("Größe: 12345 — ok\r\n\tcode()  \n".encode() + b"\xff\xc3 not UTF-8\n")
    for spec in ("text", cl100k_path(), llama3_path()):
        code, _, err = run_cli("encode", source, "-t", spec, "-o", tmp_path / "notes.tok", "--force")
        assert code == 0, err
        code, out, err = run_cli("decode", tmp_path / "notes.tok", "-t", spec)
        assert code == 0, err
        assert out == source.read_bytes()


def test_json_ids_match_the_api(run_cli, tmp_path):
    import tokkit

    source = tmp_path / "a.txt"
    source.write_text("hello world, hello tokkit\n")
    code, out, _ = run_cli("encode", source, "-t", cl100k_path(), "--json")
    assert code == 0
    assert json.loads(out)["ids"] == tokkit.load(cl100k_path()).encode_ids(source.read_bytes())


def test_info_on_text_tokenizers(run_cli):
    code, out, _ = run_cli("info", cl100k_path(), "--json")
    facts = json.loads(out)
    assert code == 0 and facts["encoding"] == "cl100k_base" and facts["vocab_size"] == 100277
    code, out, _ = run_cli("info", "text", "--json")
    assert code == 0 and json.loads(out)["engine"] == "tiktoken"


def test_unusable_tokenizers_give_one_line(run_cli, tmp_path):
    from tokenizers import Tokenizer, models

    source = tmp_path / "a.txt"
    source.write_text("x")
    wordpiece = tmp_path / "wp.json"
    wordpiece.write_text(Tokenizer(models.WordPiece({"[UNK]": 0}, unk_token="[UNK]")).to_str())
    unknown = tmp_path / "mine.tiktoken"
    unknown.write_bytes(b"YQ== 0\nYg== 1\n")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    for spec, message in ((wordpiece, "WordPiece"), (unknown, "pre-tokenizer regex"), (broken, "not valid JSON")):
        code, _, err = run_cli("encode", source, "-t", spec, "--json")
        assert code != 0 and message in err
        assert err.startswith("tokkit: error:") and len(err.strip().splitlines()) == 1
