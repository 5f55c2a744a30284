"""The pipelines on the real text BPE tokenizer (cl100k .tiktoken file): shards, workers and datasets.map agree."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

from pipeline_helpers import digests
from text_support import MIXED_SAMPLES, cl100k_path

import tokkit
from tokkit.pipelines import TokenizeFn, encode_to_shards, iter_shard_tokens


def test_stdlib_folder_to_shards_with_two_workers_and_back(tmp_path):
    folder = tmp_path / "stdlib"
    folder.mkdir()
    sources = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:12]
    for path in sources:
        shutil.copy(path, folder / path.name)
    tokenizer = tokkit.load(cl100k_path())
    one = encode_to_shards(folder, tmp_path / "one", tokenizer, shard_size=5)
    encode_to_shards(folder, tmp_path / "two", str(cl100k_path()), shard_size=5, workers=2)
    assert digests(tmp_path / "one") == digests(tmp_path / "two")
    assert one["totals"]["items"] == 12 and one["codebook_size"] == tokenizer.codebook_size
    decoded = {t.meta["source"]: tokenizer.decode(t) for t in iter_shard_tokens(tmp_path / "one")}
    assert decoded == {path.name: path.read_bytes() for path in sources}


def test_datasets_map_on_a_text_column(tmp_path):
    import datasets

    tokenizer = tokkit.load(cl100k_path())
    dataset = datasets.Dataset.from_dict({"text": MIXED_SAMPLES})
    mapped = dataset.map(TokenizeFn(tokenizer), batched=True, batch_size=4, num_proc=2)
    assert mapped["codes"] == [tokenizer.encode(text).codes.tolist() for text in MIXED_SAMPLES]
    assert mapped["text"] == MIXED_SAMPLES


def test_cli_folder_mode_defaults_to_the_builtin_text_tokenizer(tmp_path, run_cli):
    folder = tmp_path / "notes"
    folder.mkdir()
    texts = {f"n{i}.md": f"note {i}: tokens for the shards\n" * (i + 1) for i in range(3)}
    for name, text in texts.items():
        (folder / name).write_text(text)
    code, stdout, err = run_cli("encode", folder, "--out-dir", tmp_path / "out")
    assert code == 0, err
    items = list(iter_shard_tokens(tmp_path / "out"))
    assert items[0].meta["tokenizer"]["name"] == "text"
    text = tokkit.load("text")
    assert {t.meta["source"]: text.decode(t).decode() for t in items} == texts
