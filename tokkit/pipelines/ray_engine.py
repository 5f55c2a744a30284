"""Run a shard job on Ray Data: an actor pool where each actor loads the tokenizer once and writes whole shards.

Inputs and the output folder must be on a filesystem every Ray node sees (one machine, NFS, ...).
Each shard is written by exactly one actor from the same plan, so the files are byte for byte
those of the local engine. Needs the optional extra: ``pip install "tokkit[ray]"``.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Callable

from tokkit.errors import InputError
from tokkit.pipelines.shard_job import ShardJob
from tokkit.pipelines.threads import limit_threads


class ShardWriterActor:
    """Ray Data callable class: ``{"shard": [i, ...]}`` -> ``{"shard", "facts" (JSON), "error"}``."""

    def __init__(self, job: ShardJob) -> None:
        limit_threads(1)
        self.job = job

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        return self.job.write_batch(batch["shard"])


def _import_ray():
    try:
        import ray
        import ray.data
    except ImportError:
        raise InputError('--engine ray needs Ray Data: pip install "tokkit[ray]" (or "ray[data]")') from None
    return ray


def start_local_ray(num_cpus: int):
    """Start a quiet local Ray whose workers import what this process imports (same sys.path)."""
    ray = _import_ray()
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # the local raylet passes it to workers
    try:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved
    return ray


def run_ray(job: ShardJob, pending: list[int], workers: int,
            on_shard: Callable[[dict[str, Any]], None]) -> dict[int, dict[str, Any]]:
    """Write the ``pending`` shards with a pool of ``workers`` Ray actors; return their facts by index.

    Uses the running Ray cluster if ``ray.init`` was called, else starts a local one for this run.
    """
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        start_local_ray(max(workers, 1))
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    done: dict[int, dict[str, Any]] = {}
    try:
        dataset = ray.data.from_items([{"shard": index} for index in pending], override_num_blocks=min(len(pending), 200))
        written = dataset.map_batches(ShardWriterActor, fn_constructor_args=(job,), batch_size=1,
                                      concurrency=max(1, min(workers, len(pending))), num_cpus=1)
        for row in written.iter_rows():
            done[int(row["shard"])] = job.read_row(row)
            on_shard(done[int(row["shard"])])
    finally:
        if started_here:
            ray.shutdown()
    return done
