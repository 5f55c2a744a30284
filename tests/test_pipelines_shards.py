"""Folder -> parquet token shards: layout readable without tokkit, determinism, resume, failures, bad input."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from byte_tokenizer import ByteTokenizer
from nibble_tokenizer import NibbleTokenizer
from pipeline_helpers import digests, make_corpus, saved_tokenizers
from cli_helpers import one_error_line

from tokkit.errors import InputError, OutputExistsError, TokenizerMismatchError
from tokkit.pipelines import encode_to_shards, iter_shard_tokens


@pytest.fixture
def toks(tmp_path, monkeypatch):
    return saved_tokenizers(tmp_path, monkeypatch)


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    return folder, make_corpus(folder)



def test_cli_writes_documented_shards_readable_with_pyarrow(tmp_path, toks, corpus, run_cli):
    folder, contents = corpus
    out = tmp_path / "out"
    code, stdout, err = run_cli("encode", folder, "--out-dir", out, "--shard-size", "3", "-t", toks["text"])
    assert code == 0, err
    assert b"7 items" in stdout and b"in 3 shards" in stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["format_version"] == 1 and manifest["modality"] == "text"
    assert manifest["tokenizer"]["hash"] == ByteTokenizer().identity["hash"]
    assert manifest["sources"] == {name: i // 3 for i, name in enumerate(sorted(contents))}
    assert manifest["totals"] == {"inputs": 7, "items": 7, "tokens": sum(map(len, contents.values())), "skipped": 0}
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "shard-00000.parquet", "shard-00001.parquet",
                                                    "shard-00002.parquet"]
    rows = pq.read_table(out / "shard-00001.parquet").to_pylist()
    assert [row["source"] for row in rows] == sorted(contents)[3:6]
    for row in rows:
        assert row["codes"] == list(contents[row["source"]]) and row["shape"] == [len(contents[row["source"]])]
        assert json.loads(row["meta"]) == {"source_bytes": len(contents[row["source"]])}
    decoded = {t.meta["source"]: ByteTokenizer().decode(t) for t in iter_shard_tokens(out)}
    assert decoded == contents


def test_multi_level_codes_are_flattened_with_their_shape(tmp_path, toks):
    folder = tmp_path / "wavs"
    contents = make_corpus(folder, 4, ".wav")
    manifest = encode_to_shards(folder, tmp_path / "out", toks["audio"], shard_size=10)
    assert manifest["modality"] == "audio" and manifest["codebook_size"] == 16
    table = pq.read_table(tmp_path / "out" / "shard-00000.parquet")
    assert str(table.schema.field("codes").type.value_type) == "int32"
    row = table.to_pylist()[0]
    codes = np.array(row["codes"]).reshape(row["shape"])
    assert codes.shape == (2, len(contents[row["source"]]))
    assert NibbleTokenizer().decode(next(iter_shard_tokens(tmp_path / "out"))) == contents[row["source"]]


def test_workers_and_the_datasets_engine_give_byte_identical_shards(tmp_path, toks, corpus, run_cli):
    folder, _ = corpus
    encode_to_shards(folder, tmp_path / "one", toks["text"], shard_size=2)
    encode_to_shards(folder, tmp_path / "two", toks["text"], shard_size=2, workers=2)
    code, _, err = run_cli("encode", folder, "--out-dir", tmp_path / "hf", "--shard-size", "2", "--engine", "datasets",
                           "--workers", "2", "-t", toks["text"])
    assert code == 0, err
    assert digests(tmp_path / "one") == digests(tmp_path / "two") == digests(tmp_path / "hf")
    assert len(digests(tmp_path / "one")) == 5


def test_datasets_engine_reports_an_item_failure(tmp_path, toks):
    folder = tmp_path / "wavs"
    make_corpus(folder, 3, ".wav")
    (folder / "doc02.wav").write_bytes(b"BAD")
    with pytest.raises(InputError, match=r"cannot encode .*doc02\.wav: not a valid recording"):
        encode_to_shards(folder, tmp_path / "out", toks["audio"], shard_size=1, engine="datasets", workers=2)


def test_rerun_resumes_only_missing_shards(tmp_path, toks, corpus, run_cli):
    folder, _ = corpus
    out = tmp_path / "out"
    encode_to_shards(folder, out, toks["text"], shard_size=2)
    fresh = digests(out)
    (out / "shard-00002.parquet").unlink()
    (out / ".shard-00001.parquet.abc123.tmp").write_bytes(b"half a shard from a killed run")
    kept = (out / "shard-00000.parquet").stat().st_mtime_ns
    code, stdout, err = run_cli("encode", folder, "--out-dir", out, "--shard-size", "2", "-t", toks["text"])
    assert code == 0, err
    assert b"(3 already done)" in stdout
    assert digests(out) == fresh
    assert (out / "shard-00000.parquet").stat().st_mtime_ns == kept


def test_failure_stops_with_finished_shards_kept_then_resume_completes(tmp_path, toks):
    folder = tmp_path / "wavs"
    make_corpus(folder, 6, ".wav")
    (folder / "sub" / "doc04.wav").write_bytes(b"BAD header")
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"cannot encode .*doc04\.wav: not a valid recording"):
        encode_to_shards(folder, out, toks["audio"], shard_size=2)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "shard-00000.parquet", "shard-00001.parquet"]
    assert json.loads((out / "manifest.json").read_text())["complete"] is False
    with pytest.raises(InputError, match="unfinished"):
        next(iter_shard_tokens(out))
    (folder / "sub" / "doc04.wav").write_bytes(b"good now!!")  # same size: the plan is unchanged
    manifest = encode_to_shards(folder, out, toks["audio"], shard_size=2)
    assert manifest["complete"] and manifest["totals"]["items"] == 6


def test_skip_errors_reports_and_lists_failed_and_unreadable_inputs(tmp_path, toks, run_cli):
    folder = tmp_path / "wavs"
    make_corpus(folder, 5, ".wav")
    (folder / "doc00.wav").write_bytes(b"BAD header")
    (folder / "gone.wav").symlink_to(tmp_path / "missing.wav")
    out = tmp_path / "out"
    code, _, err = run_cli("encode", folder, "--out-dir", out, "-t", toks["audio"])
    assert code != 0 and "gone.wav: a broken link" in one_error_line(err) and "--skip-errors" in err
    assert not out.exists()
    code, stdout, err = run_cli("encode", folder, "--out-dir", out, "-t", toks["audio"], "--skip-errors")
    assert code == 0, err
    assert "tokkit: warning: skipped doc00.wav: not a valid recording" in err
    assert "tokkit: warning: skipped gone.wav: cannot read: a broken link" in err
    assert b"2 inputs skipped" in stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["source"] for s in manifest["skipped"]] == ["gone.wav", "doc00.wav"]
    assert manifest["totals"]["items"] == 4 and "doc00.wav" not in pq.read_table(out / "shard-00000.parquet")["source"].to_pylist()


def test_resume_refuses_another_tokenizer_or_plan_and_force_starts_over(tmp_path, toks, corpus, run_cli):
    folder, _ = corpus
    out = tmp_path / "out"
    encode_to_shards(folder, out, toks["text"], shard_size=2)
    ByteTokenizer(salt="other").save(tmp_path / "other")
    with pytest.raises(TokenizerMismatchError, match="holds shards made by tokenizer .*hash"):
        encode_to_shards(folder, out, str(tmp_path / "other"), shard_size=2)
    code, _, err = run_cli("encode", folder, "--out-dir", out, "--shard-size", "3", "-t", toks["text"])
    assert code != 0 and "--shard-size was 2, now 3" in one_error_line(err)
    (folder / "new.txt").write_text("more")
    with pytest.raises(OutputExistsError, match="1 inputs added and 0 removed"):
        encode_to_shards(folder, out, toks["text"], shard_size=2)
    manifest = encode_to_shards(folder, out, toks["text"], shard_size=3, force=True)
    assert manifest["totals"]["items"] == 8 and len(list(out.glob("shard-*.parquet"))) == 3


@pytest.mark.parametrize("case", ["foreign_data", "mixed_modalities", "out_inside_input", "empty_folder",
                                  "not_a_folder", "options_without_out_dir", "folder_without_out_dir",
                                  "audio_files_text_tokenizer"])
def test_bad_input_gives_one_clear_line(tmp_path, toks, corpus, run_cli, case):
    folder, _ = corpus
    out = tmp_path / "out"
    if case == "foreign_data":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
        expected = "already holds other files (e.g. notes.txt)"
    elif case == "mixed_modalities":
        (folder / "voice.wav").write_bytes(b"RIFF")
        expected = "mixes modalities: 1 audio (e.g. voice.wav), 7 text (e.g. doc00.txt)"
    elif case == "out_inside_input":
        out = folder / "shards"
        expected = "inside the input folder"
    elif case == "empty_folder":
        folder = tmp_path / "empty"
        folder.mkdir()
        expected = "holds no readable files"
    elif case == "not_a_folder":
        folder = folder / "doc00.txt"
        expected = "exactly one input folder"
    elif case == "audio_files_text_tokenizer":
        folder = tmp_path / "wavs"
        make_corpus(folder, 2, ".wav")
        expected = "holds audio files but the tokenizer is for text"
    args = ["encode", folder, "--out-dir", out, "-t", toks["text"]]
    if case == "options_without_out_dir":
        args, expected = ["encode", folder / "doc00.txt", "--workers", "2", "-t", toks["text"]], "--workers only work with --out-dir"
    elif case == "folder_without_out_dir":
        args, expected = ["encode", folder, "-t", toks["text"]], "is a folder; encode it into shards with --out-dir"
    code, stdout, err = run_cli(*args)
    assert code != 0 and stdout == b""
    assert expected in one_error_line(err)
    if case == "foreign_data":
        assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_a_killed_run_leaves_only_whole_shards_and_resumes(tmp_path, toks):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from nibble_tokenizer import NibbleTokenizer

    folder = tmp_path / "wavs"
    make_corpus(folder, 12, ".wav")
    NibbleTokenizer(delay=0.1).save(tmp_path / "slow")
    tests_dir = Path(__file__).parent
    code = ("import sys; sys.path[:0] = sys.argv[1:3]; from tokkit.core import registry; "
            "registry.KIND_LOADERS['test.nibbles'] = 'nibble_tokenizer:load_saved'; from tokkit.cli.main import main; "
            "main(sys.argv[3:])")
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-c", code, str(tests_dir), str(tests_dir.parent), "encode",
                                str(folder), "--out-dir", str(out), "--shard-size", "2", "-t", str(tmp_path / "slow")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not (out / "shard-00001.parquet").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    shards = sorted(out.glob("shard-*.parquet"))
    assert 2 <= len(shards) < 6
    for shard in shards:  # every shard on disk is whole
        assert pq.read_table(shard).num_rows == 2
    NibbleTokenizer(delay=0.0).save(tmp_path / "slow")  # same identity (hash and path), now fast
    assert encode_to_shards(folder, out, str(tmp_path / "slow"), shard_size=2)["totals"]["items"] == 12
    encode_to_shards(folder, tmp_path / "fresh", str(tmp_path / "slow"), shard_size=2)
    assert digests(out) == digests(tmp_path / "fresh")


def test_two_runs_on_one_out_dir_are_refused(tmp_path, toks, corpus):
    from tokkit.pipelines.out_dir import locked_out_dir

    folder, _ = corpus
    with locked_out_dir(tmp_path / "out"):
        with pytest.raises(OutputExistsError, match="another tokkit run is writing"):
            encode_to_shards(folder, tmp_path / "out", toks["text"])


def test_a_file_name_that_is_not_utf8_is_reported(tmp_path, toks, corpus):
    import os

    folder, _ = corpus
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.txt"), "wb") as handle:
        handle.write(b"latin-1 name")
    with pytest.raises(InputError, match=r"caf.\.txt: its name is not valid UTF-8"):
        encode_to_shards(folder, tmp_path / "out", toks["text"])
    manifest = encode_to_shards(folder, tmp_path / "out", toks["text"], skip_errors=True)
    assert manifest["totals"] == {"inputs": 8, "items": 7, "tokens": manifest["totals"]["tokens"], "skipped": 1}
