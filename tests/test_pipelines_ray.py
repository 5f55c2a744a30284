"""Ray Data: the shard engine writes the same bytes as local processes, and TokenizeFn runs in an actor pool."""

from __future__ import annotations

import pytest
from pipeline_helpers import digests, make_corpus, saved_tokenizers

from tokkit.errors import InputError
from tokkit.pipelines import TokenizeFn, encode_to_shards

import ray  # noqa: E402  (the [test] extra installs Ray: a missing Ray must fail, not skip)
pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def ray_cluster():
    from tokkit.pipelines.ray_engine import start_local_ray

    start_local_ray(num_cpus=2)  # ray.init(num_cpus=2, include_dashboard=False), workers see tests/ on sys.path
    yield
    ray.shutdown()


@pytest.fixture
def toks(tmp_path, monkeypatch):
    return saved_tokenizers(tmp_path, monkeypatch)


def test_ray_engine_writes_the_local_shards_byte_for_byte(ray_cluster, tmp_path, toks, run_cli):
    folder = tmp_path / "wavs"
    make_corpus(folder, 7, ".wav")
    encode_to_shards(folder, tmp_path / "local", toks["audio"], shard_size=2)
    code, stdout, err = run_cli("encode", folder, "--out-dir", tmp_path / "ray", "--shard-size", "2",
                                "--engine", "ray", "--workers", "2", "-t", toks["audio"])
    assert code == 0, err
    assert b"7 items" in stdout
    assert digests(tmp_path / "ray") == digests(tmp_path / "local")


def test_ray_engine_reports_an_item_failure_as_one_line(ray_cluster, tmp_path, toks):
    folder = tmp_path / "wavs"
    make_corpus(folder, 3, ".wav")
    (folder / "doc02.wav").write_bytes(b"BAD")
    with pytest.raises(InputError, match=r"cannot encode .*doc02\.wav: not a valid recording"):
        encode_to_shards(folder, tmp_path / "out", toks["audio"], shard_size=1, engine="ray", workers=2)
    assert (tmp_path / "out" / "shard-00000.parquet").exists()


def test_tokenize_fn_in_a_ray_data_actor_pool(ray_cluster, toks):
    texts = [f"line {i} " * i for i in range(10)]
    dataset = ray.data.from_items([{"text": t} for t in texts], override_num_blocks=2)
    mapped = dataset.map_batches(TokenizeFn, fn_constructor_args=(TokenizeFn(toks["text"]),), batch_size=3, concurrency=2)
    rows = sorted(mapped.take_all(), key=lambda row: len(row["codes"]))
    expected = TokenizeFn(toks["text"])({"text": texts})
    assert [list(row["codes"]) for row in rows] == sorted(([list(c) for c in expected["codes"]]), key=len)
