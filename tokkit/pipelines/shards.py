"""``encode_to_shards``: a folder of inputs -> resumable parquet token shards plus a manifest.

The Python equivalent of ``tokkit encode DIR --out-dir OUT``. Inputs are sorted by relative path
and cut into shards of ``shard_size`` files; each shard depends only on its own inputs, so any
number of workers, on any engine ("local" processes, HF "datasets", "ray"), writes the same bytes.
A rerun skips finished shards.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from tokkit.core.tokenizer import Tokenizer
from tokkit.errors import InputError
from tokkit.pipelines.manifest import final_manifest, plan_manifest, write_manifest
from tokkit.pipelines.out_dir import check_out_dir, clear_out_dir, locked_out_dir
from tokkit.pipelines.plan import check_one_modality, list_inputs, make_plan
from tokkit.pipelines.shard_job import ShardJob
from tokkit.pipelines.tokenize_fn import TokenizeFn

ENGINES = ("local", "ray", "datasets")


def _runner(engine: str) -> Callable:
    if engine == "local":
        from tokkit.pipelines.local_engine import run_local

        return run_local
    if engine == "ray":
        from tokkit.pipelines.ray_engine import run_ray

        return run_ray
    if engine == "datasets":
        from tokkit.pipelines.datasets_engine import run_datasets

        return run_datasets
    raise InputError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")


def encode_to_shards(input_dir: str | os.PathLike, out_dir: str | os.PathLike,
                     tokenizer: str | os.PathLike | Tokenizer | None = None, *, shard_size: int = 1000,
                     workers: int = 1, engine: str = "local", skip_errors: bool = False, force: bool = False,
                     options: dict[str, Any] | None = None,
                     on_start: Callable[[dict[str, Any], list[int]], None] | None = None,
                     on_shard: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Encode every file under ``input_dir`` into parquet shards in ``out_dir``; return the manifest.

    ``tokenizer``: a name, path or Tokenizer; default: the built-in one for the inputs' kind.
    ``options``: its encode options for every input (e.g. ``{"tokens": 16}``), recorded in the manifest:
    a rerun resumes only with the same options.
    Unreadable inputs and inputs that fail to encode stop the run with an InputError naming them,
    unless ``skip_errors`` (then they are listed in the manifest's ``skipped``). ``force`` starts
    over in a folder holding another tokkit shard job. ``on_start(manifest, pending_indices)`` and
    ``on_shard(facts)`` report progress.
    """
    runner = _runner(engine)
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    input_dir = os.fspath(input_dir)
    files, problems = list_inputs(input_dir)
    if problems and not skip_errors:
        relative, reason = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError(f"cannot read {os.path.join(input_dir, relative)}: {reason}{more}; "
                         f"fix it or pass --skip-errors to leave it out")
    if not files:
        raise InputError(f"{input_dir} holds no readable files to encode")
    if tokenizer is None:
        tokenizer = check_one_modality(files, input_dir, None)
    fn = TokenizeFn(tokenizer, column="path", files=True, skip_errors=skip_errors, options=options)
    loaded = fn.tokenizer
    modality = check_one_modality(files, input_dir, loaded.modality)
    plan = make_plan(files, shard_size)
    unreadable = [{"source": relative, "error": f"cannot read: {reason}"} for relative, reason in problems]
    started = plan_manifest(plan, fn.identity, modality, loaded.codebook_size, unreadable, fn.options)
    job = ShardJob(fn, input_dir, os.fspath(out_dir), plan, modality, loaded.codebook_size)

    check_out_dir(out_dir, input_dir, started, force=force)
    with locked_out_dir(out_dir):
        clear_out_dir(out_dir, shards_too=force)
        write_manifest(out_dir, started)
        facts: dict[int, dict[str, Any]] = {}
        for index in range(len(plan.shards)):
            previous = job.finished(index)
            if previous is not None:
                facts[index] = previous
        pending = [index for index in range(len(plan.shards)) if index not in facts]
        if on_start is not None:
            on_start(started, pending)
        facts.update(runner(job, pending, workers, on_shard or (lambda _facts: None)))
        manifest = final_manifest(started, [facts[index] for index in range(len(plan.shards))])
        write_manifest(out_dir, manifest)
    return manifest
