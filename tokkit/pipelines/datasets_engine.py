"""Run a shard job through HF ``datasets.map(num_proc=N)``: each row is one shard, written by the map function.

For pipelines already built on HF datasets; the shards are byte for byte those of the other engines.
Nothing is cached by datasets (the shard files and the manifest are the resumable state).
"""

from __future__ import annotations

from typing import Any, Callable

from tokkit.errors import InputError
from tokkit.pipelines.shard_job import ShardJob
from tokkit.pipelines.threads import limit_threads, thread_share


class ShardBatchWriter:
    """``datasets.map`` function: ``{"shard": [i, ...]}`` -> ``{"facts": [JSON], "error": [message]}``."""

    def __init__(self, job: ShardJob, threads: int | None) -> None:
        self.job = job
        self.threads = threads

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        if self.threads is not None:  # a worker process: keep to its share of the cores
            limit_threads(self.threads)
        out = self.job.write_batch(batch["shard"])
        del out["shard"]  # the input column, removed by the map
        return out


def run_datasets(job: ShardJob, pending: list[int], workers: int,
                 on_shard: Callable[[dict[str, Any]], None]) -> dict[int, dict[str, Any]]:
    """Write the ``pending`` shards with ``datasets.map(batched=True, batch_size=1, num_proc=workers)``.

    Progress is reported once the map returns; a failing shard is reported after the others finish.
    """
    try:
        import datasets
    except ImportError:
        raise InputError("--engine datasets needs HF datasets: pip install datasets") from None
    workers = max(1, min(workers, len(pending)))
    threads = thread_share(workers) if workers > 1 else None
    bars_were_off = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        written = datasets.Dataset.from_dict({"shard": pending}).map(
            ShardBatchWriter(job, threads), batched=True, batch_size=1, num_proc=workers if workers > 1 else None,
            remove_columns=["shard"], load_from_cache_file=False, keep_in_memory=True)
    finally:
        if not bars_were_off:
            datasets.enable_progress_bars()
    done: dict[int, dict[str, Any]] = {}
    for row in written:
        facts = job.read_row(row)
        done[int(facts["shard"])] = facts
        on_shard(facts)
    return done
