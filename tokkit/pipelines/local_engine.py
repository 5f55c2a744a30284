"""Run a shard job on this machine: in this process, or in N spawned worker processes (one shard per task)."""

from __future__ import annotations

import multiprocessing
import signal
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable

from tokkit.pipelines.shard_job import ShardJob
from tokkit.pipelines.threads import limit_threads, thread_share

_JOB: ShardJob | None = None


def _init_worker(job: ShardJob, threads: int) -> None:
    global _JOB
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is handled once, by the parent
    limit_threads(threads)
    _JOB = job


def _write(index: int) -> dict[str, Any]:
    if _JOB is None:
        raise RuntimeError("shard worker started without _init_worker")
    return _JOB.write(index)


def run_local(job: ShardJob, pending: list[int], workers: int,
              on_shard: Callable[[dict[str, Any]], None]) -> dict[int, dict[str, Any]]:
    """Write the ``pending`` shards with ``workers`` processes; return their facts by shard index.

    One worker runs in this process. More are spawned (a fresh interpreter each, so no state leaks
    in from the caller), each limited to its share of the cores. The first failure or Ctrl-C stops
    the run: no new shard starts, running ones finish, and finished shards stay on disk for a resume.
    """
    done: dict[int, dict[str, Any]] = {}
    if workers <= 1 or len(pending) <= 1:
        for index in pending:
            done[index] = job.write(index)
            on_shard(done[index])
        return done
    workers = min(workers, len(pending))
    threads = thread_share(workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(job, threads)) as pool:
        futures = {pool.submit(_write, index): index for index in pending}
        remaining = set(futures)
        try:
            while remaining:
                finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for future in finished:
                    done[futures[future]] = future.result()
                    on_shard(done[futures[future]])
        except BaseException:  # a failed shard or Ctrl-C: start no new shard, let running ones finish whole
            for future in remaining:
                future.cancel()
            raise
    return done
