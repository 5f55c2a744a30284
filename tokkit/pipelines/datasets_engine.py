"""Run a shard job through HF ``datasets.map(num_proc=N)``: each row is one shard, written by the map function.

For pipelines already built on HF datasets; the shards are byte for byte those of the other engines.
Nothing is cached by datasets (the shard files and the manifest are the resumable state).
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable

from tokkit.errors import InputError, TokkitError
from tokkit.pipelines.shard_job import ShardJob
from tokkit.pipelines.threads import limit_threads


class ShardBatchWriter:
    """``datasets.map`` function: ``{"shard": [i, ...]}`` -> ``{"facts": [JSON], "error": [message]}``."""

    def __init__(self, job: ShardJob, threads: int | None) -> None:
        self.job = job
        self.threads = threads

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        if self.threads is not None:  # a worker process: keep to its share of the cores
            limit_threads(self.threads)
        out: dict[str, list] = {"facts": [], "error": []}
        for index in batch["shard"]:
            try:
                facts, error = json.dumps(self.job.write(int(index))), ""
            except TokkitError as exc:  # a user-caused failure travels back as data
                facts, error = "", str(exc)
            out["facts"].append(facts)
            out["error"].append(error)
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
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
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
        if row["error"]:
            raise InputError(row["error"])
        facts = json.loads(row["facts"])
        done[int(facts["shard"])] = facts
        on_shard(facts)
    return done
