"""``tokkit infer-mixture``: the JSON answer on a small trained tokenizer, and one clear error line
(non-zero exit, no traceback) for every bad input."""

from __future__ import annotations

import json

import pytest

from tests.mixture_synthetic import ALPHABETS, category_text
from tokkit.analysis.mixture.controlled import train_mixture_tokenizer
from tokkit.cli.main import main


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    (folder / "ab").mkdir()
    for part in range(2):  # a folder category with two files
        (folder / "ab" / f"part{part}.txt").write_text(category_text(ALPHABETS["ab"], 1500, part), encoding="utf-8")
    (folder / "cd.txt").write_text(category_text(ALPHABETS["cd"], 3000, 5), encoding="utf-8")
    texts = [p.read_text() for p in sorted((folder / "ab").iterdir())] + [(folder / "cd.txt").read_text()] * 2
    tokenizer = train_mixture_tokenizer(texts, 200, folder / "tokenizer.json")
    return folder, tokenizer


def test_json_answer(setup, capsys):
    folder, tokenizer = setup
    code, out, _ = _run(["infer-mixture", str(tokenizer), "--category", f"ab={folder / 'ab'}",
                         "--category", f"cd={folder}/cd.*", "--merges", "150", "--json"], capsys)
    assert code == 0
    answer = json.loads(out)
    sizes = {"ab": sum(p.stat().st_size for p in (folder / "ab").iterdir()), "cd": 2 * (folder / "cd.txt").stat().st_size}
    for name, size in sizes.items():
        assert answer["proportions"][name] == pytest.approx(size / sum(sizes.values()), abs=1e-3)
    assert answer["merges_analysed"] == 150 and answer["solver"]["rounds"] >= 1


def test_table_answer(setup, capsys):
    folder, tokenizer = setup
    code, out, _ = _run(["infer-mixture", str(tokenizer), "--category", f"ab={folder / 'ab'}",
                         "--category", f"cd={folder / 'cd.txt'}", "--merges", "100"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["category", "share"]
    assert lines[1].startswith("cd") and lines[2].startswith("ab")  # sorted by share, cd is 2/3


@pytest.mark.parametrize("size, read", [("2k", 2000), ("2e3", 2000), ("2KB", 2000), ("2000", 2000), ("1KiB", 1024)])
def test_bytes_per_category_takes_units(setup, capsys, size, read):
    folder, tokenizer = setup
    code, out, _ = _run(["infer-mixture", str(tokenizer), "--category", f"ab={folder / 'ab'}",
                         "--category", f"cd={folder / 'cd.txt'}", "--merges", "50", "--bytes-per-category", size,
                         "--json"], capsys)
    assert code == 0
    assert all(0 < n <= read for n in json.loads(out)["sample_bytes"].values())


@pytest.mark.parametrize("size", ["0", "-5", "lots", "1e400", "5XB"])
def test_bad_bytes_per_category(setup, capsys, size):
    folder, tokenizer = setup
    code, out, err = _run(["infer-mixture", str(tokenizer), "--category", f"ab={folder / 'ab'}",
                           "--category", f"cd={folder / 'cd.txt'}", "--bytes-per-category", size], capsys)
    assert code != 0 and out == "" and "is not a byte count" in err and "Traceback" not in err


def _hf_json(path, model: dict) -> str:
    config = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
              "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None, "model": model}
    path.write_text(json.dumps(config))
    return str(path)


@pytest.mark.parametrize("model, message", [
    ({"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
      "vocab": {"[UNK]": 0, "a": 1}}, "WordPiece tokenizer has no merge list"),
    ({"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["a", -1.0]], "byte_fallback": False},
     "Unigram tokenizer has no merge list"),
    ({"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None, "end_of_word_suffix": None,
      "fuse_unk": False, "byte_fallback": False, "vocab": {"a": 0, "b": 1}, "merges": []}, "no merges"),
])
def test_tokenizers_without_merges(setup, tmp_path, capsys, model, message):
    folder, _ = setup
    tokenizer = _hf_json(tmp_path / "tokenizer.json", model)
    code, out, err = _run(["infer-mixture", tokenizer, "--category", f"ab={folder / 'ab'}",
                           "--category", f"cd={folder / 'cd.txt'}"], capsys)
    assert code != 0 and out == ""
    assert err.startswith("tokkit: error: ") and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("categories, message", [
    (["ab={ab}", "cd={missing}"], "does not exist"),
    (["ab={ab}", "cd={empty_file}"], "no non-empty text files"),
    (["ab={ab}", "cd={empty_dir}"], "no non-empty text files"),
    (["ab={ab}", "cd={nomatch}"], "no non-empty text files"),
    (["ab={ab}", "ab={cd}"], "given twice"),
    (["ab={ab}"], "at least two categories"),
    ([], "at least two --category"),
    (["ab={ab}", "cd"], "expected NAME=PATH"),
    (["ab={ab}", "=x"], "expected NAME=PATH"),
    (["ab={ab}", "cd="], "expected NAME=PATH"),
    (["qr={qr}", "yz={yz}"], "share nothing with this tokenizer"),
])
def test_bad_categories(setup, tmp_path, capsys, categories, message):
    folder, tokenizer = setup
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "empty_dir").mkdir()
    for name, letters in (("qr", "qrstuvwx"), ("yz", "yzqrstuv")):  # letters the tokenizer never merged
        (tmp_path / f"{name}.txt").write_text(category_text(letters, 500, 1), encoding="utf-8")
    paths = {"ab": folder / "ab", "cd": folder / "cd.txt", "missing": tmp_path / "nope.txt",
             "empty_file": tmp_path / "empty.txt", "empty_dir": tmp_path / "empty_dir", "nomatch": tmp_path / "*.none",
             "qr": tmp_path / "qr.txt", "yz": tmp_path / "yz.txt"}
    argv = ["infer-mixture", str(tokenizer)]
    for spec in categories:
        argv += ["--category", spec.format(**paths)]
    code, out, err = _run(argv, capsys)
    assert code != 0 and out == ""
    assert err.startswith("tokkit: error: ") and message in err and len(err.strip().splitlines()) == 1


def test_missing_tokenizer_and_bad_range(setup, capsys):
    folder, tokenizer = setup
    cats = ["--category", f"ab={folder / 'ab'}", "--category", f"cd={folder / 'cd.txt'}"]
    code, _, err = _run(["infer-mixture", str(folder / "none.json"), *cats], capsys)
    assert code != 0 and "no such tokenizer file" in err
    code, _, err = _run(["infer-mixture", str(tokenizer), *cats, "--merge-start", "100000"], capsys)
    assert code != 0 and err.startswith("tokkit: error: ") and "outside the tokenizer's" in err


def test_merges_txt_matches_tokenizer_json(setup, tmp_path, capsys):
    folder, tokenizer = setup
    merges = json.loads(tokenizer.read_text())["model"]["merges"]
    lines = ["#version: 0.2"] + [m if isinstance(m, str) else " ".join(m) for m in merges]
    (tmp_path / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cats = ["--category", f"ab={folder / 'ab'}", "--category", f"cd={folder / 'cd.txt'}", "--merges", "120", "--json"]
    _, from_json, _ = _run(["infer-mixture", str(tokenizer), *cats], capsys)
    _, from_txt, _ = _run(["infer-mixture", str(tmp_path / "merges.txt"), *cats], capsys)
    assert json.loads(from_txt)["proportions"] == pytest.approx(json.loads(from_json)["proportions"], abs=1e-9)


def test_unknown_tiktoken_file(setup, tmp_path, capsys):
    folder, _ = setup
    ranks = tmp_path / "mine.tiktoken"
    ranks.write_text("YQ== 0\nYg== 1\nYWI= 2\n")
    code, _, err = _run(["infer-mixture", str(ranks), "--category", f"ab={folder / 'ab'}",
                         "--category", f"cd={folder / 'cd.txt'}"], capsys)
    assert code != 0 and err.startswith("tokkit: error: ") and "not a known tiktoken encoding" in err
