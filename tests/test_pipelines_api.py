"""TokenizeFn in plain loops and HF datasets (stable fingerprint, num_proc), collate, EncodedFiles, thread limits."""

from __future__ import annotations

import functools
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from byte_tokenizer import ByteTokenizer
from pipeline_helpers import make_corpus, saved_tokenizers

import tokkit
from tokkit.errors import InputError, TokenizerMismatchError
from tokkit.pipelines import EncodedFiles, ShardTokens, TokenizeFn, collate, encode_to_shards

TEXTS = ["hello", "", "wörld ✓", "a much longer line of text"]


@pytest.fixture
def toks(tmp_path, monkeypatch):
    return saved_tokenizers(tmp_path, monkeypatch)


def test_plain_loop_returns_record_columns(toks):
    out = TokenizeFn(toks["text"])({"text": TEXTS, "other": [1, 2, 3, 4]})
    assert sorted(out) == ["codes", "meta", "shape"]
    assert [c.tolist() for c in out["codes"]] == [list(t.encode()) for t in TEXTS]
    assert [s.tolist() for s in out["shape"]] == [[len(t.encode())] for t in TEXTS]
    assert out["codes"][0].dtype == np.int32 and json.loads(out["meta"][2]) == {"source_bytes": len("wörld ✓".encode())}


def test_pickles_small_loads_lazily_and_matches(toks):
    fn = TokenizeFn(toks["text"])
    data = pickle.dumps(fn)
    assert len(data) < 1000
    copy = pickle.loads(data)
    assert copy._tokenizer is None
    assert [c.tolist() for c in copy({"text": TEXTS})["codes"]] == [c.tolist() for c in fn({"text": TEXTS})["codes"]]
    assert copy._tokenizer is not None
    template = TokenizeFn(TokenizeFn(toks["text"], column="path", files=True), skip_errors=True)
    assert (template.column, template.files, template.skip_errors, template._tokenizer) == ("path", True, True, None)


def test_worker_refuses_a_tokenizer_that_changed(tmp_path, toks):
    data = pickle.dumps(TokenizeFn(toks["text"]))
    ByteTokenizer(salt="changed").save(toks["text"])
    with pytest.raises(TokenizerMismatchError, match="changed while the job ran"):
        pickle.loads(data)({"text": ["x"]})
    skipping = pickle.dumps(TokenizeFn(toks["text"], skip_errors=True))
    (Path(toks["text"]) / "config.json").unlink()
    with pytest.raises(InputError, match="without config.json"):  # a tokenizer that cannot load is not an item error
        pickle.loads(skipping)({"text": ["x"]})


def test_item_errors_name_the_item_or_fill_the_error_column(toks, tmp_path):
    batch = {"text": ["ok", None]}  # the text tokenizer refuses None with an InputError
    with pytest.raises(InputError, match="cannot encode item 1 of the batch: text tokenizers encode str or bytes"):
        TokenizeFn("text")(batch)
    out = TokenizeFn("text", skip_errors=True)(batch)
    assert out["error"][0] == "" and out["error"][1].startswith("text tokenizers encode str or bytes")
    assert out["codes"][1].size == 0 and out["codes"][0].size > 0
    # an exception that is not an input error is a bug: it surfaces, even with skip_errors
    with pytest.raises(TypeError):
        TokenizeFn(toks["text"], skip_errors=True)(batch)  # ByteTokenizer has no check for None
    # in file mode, a file that cannot be read is an input error
    out = TokenizeFn(toks["text"], column="path", files=True, skip_errors=True)({"path": [str(tmp_path / "gone.txt")]})
    assert "gone.txt" in out["error"][0]
    with pytest.raises(InputError, match="no column 'text' .*columns: body"):
        TokenizeFn(toks["text"])({"body": ["x"]})


def test_datasets_fingerprint_is_stable_and_tracks_the_job(tmp_path, toks):
    from datasets.fingerprint import Hasher

    first, second = TokenizeFn(toks["text"]), TokenizeFn(toks["text"])
    assert Hasher.hash(first) == Hasher.hash(second)
    first({"text": ["loaded now"]})
    assert Hasher.hash(first) == Hasher.hash(second)  # loading the tokenizer does not change the hash
    assert Hasher.hash(TokenizeFn(toks["text"], column="body")) != Hasher.hash(second)
    ByteTokenizer(salt="v2").save(tmp_path / "v2")
    assert Hasher.hash(TokenizeFn(str(tmp_path / "v2"))) != Hasher.hash(second)
    # and run to run: a fresh interpreter computes the same hash
    code = ("import sys; sys.path[:0] = sys.argv[1:3]; from pipeline_helpers import *; from tokkit.core import registry; "
            "registry.KIND_LOADERS['test.bytes'] = 'byte_tokenizer:load_saved'; "
            "from datasets.fingerprint import Hasher; from tokkit.pipelines import TokenizeFn; "
            f"print(Hasher.hash(TokenizeFn({toks['text']!r})))")
    tests_dir, root = str(Path(__file__).parent), str(Path(__file__).parent.parent)
    out = subprocess.run([sys.executable, "-c", code, tests_dir, root], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == Hasher.hash(second)


def test_datasets_map_with_processes_matches_the_shards(tmp_path, toks):
    import datasets

    folder = tmp_path / "corpus"
    contents = make_corpus(folder, 6)
    encode_to_shards(folder, tmp_path / "out", toks["text"], shard_size=10)
    shard = pq.read_table(tmp_path / "out" / "shard-00000.parquet").to_pydict()
    paths = [str(folder / name) for name in sorted(contents)]
    dataset = datasets.Dataset.from_dict({"path": paths})
    fn = TokenizeFn(toks["text"], column="path", files=True)
    mapped = dataset.map(fn, batched=True, batch_size=2, num_proc=2)
    again = dataset.map(TokenizeFn(toks["text"], column="path", files=True), batched=True, batch_size=2, num_proc=2)
    assert mapped._fingerprint == again._fingerprint
    assert mapped["codes"] == shard["codes"] and mapped["shape"] == shard["shape"] and mapped["meta"] == shard["meta"]


def test_collate_pads_text_and_multi_level_codes():
    text = collate([np.array([5, 6, 7]), tokkit.Tokens(np.array([9]), {}), {"codes": [1, 2], "shape": [2]}], pad_id=-1)
    assert text["codes"].tolist() == [[5, 6, 7], [9, -1, -1], [1, 2, -1]]
    assert text["lengths"].tolist() == [3, 1, 2]
    assert text["attention_mask"].tolist() == [[True, True, True], [True, False, False], [True, True, False]]
    audio = collate([{"codes": np.arange(6), "shape": [2, 3]}, np.ones((2, 1), dtype=np.int64)])
    assert audio["codes"].shape == (2, 2, 3) and audio["codes"].dtype == torch.int64
    assert audio["codes"][0].tolist() == [[0, 1, 2], [3, 4, 5]] and audio["codes"][1].tolist() == [[1, 0, 0], [1, 0, 0]]
    assert audio["attention_mask"].tolist() == [[True, True, True], [True, False, False]]
    with pytest.raises(InputError, match="same \\(Q, T\\) depth"):
        collate([np.ones((2, 3)), np.ones((4, 3))])
    with pytest.raises(InputError, match="same \\(Q, T\\) depth"):
        collate([np.ones(3), np.ones((2, 3))])


def test_encoded_files_split_across_dataloader_workers(tmp_path, toks):
    folder = tmp_path / "corpus"
    contents = make_corpus(folder, 7)
    dataset = EncodedFiles(folder, toks["text"])
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=2,
                                         collate_fn=functools.partial(collate, pad_id=0))
    batches = list(loader)
    assert sum(len(b["lengths"]) for b in batches) == 7
    lengths = sorted(length for b in batches for length in b["lengths"].tolist())
    assert lengths == sorted(len(data) for data in contents.values())
    assert [len(t) for t in EncodedFiles(folder, toks["text"])] == [len(contents[name]) for name in sorted(contents)]


def test_shard_tokens_feed_a_dataloader_with_workers(tmp_path, toks):
    folder = tmp_path / "wavs"
    contents = make_corpus(folder, 7, ".wav")
    encode_to_shards(folder, tmp_path / "out", toks["audio"], shard_size=2)
    dataset = ShardTokens(tmp_path / "out")
    assert len(dataset) == 7
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, num_workers=2, collate_fn=collate)
    batches = list(loader)
    assert all(batch["codes"].shape[:2] == (len(batch["lengths"]), 2) for batch in batches)
    assert sorted(length for b in batches for length in b["lengths"].tolist()) == sorted(map(len, contents.values()))
    items = list(ShardTokens(tmp_path / "out"))
    assert [t.meta["source"] for t in items] == sorted(contents) and items[0].meta["modality"] == "audio"


def test_limit_threads_caps_torch_and_tokenizers_in_a_fresh_worker():
    code = ("import tokkit.text.engines as text; from tokkit.pipelines.threads import limit_threads; limit_threads(1); "
            "import os, torch; print(torch.get_num_threads(), os.environ['TOKENIZERS_PARALLELISM'], "
            "os.environ['OMP_NUM_THREADS'], text.threads_now())")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["1", "false", "1", "1"]
