"""The output folder of a shard run: refuse foreign data or a different job, lock it, clean stale temp files."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from pathlib import Path
from typing import Any, Iterator

from tokkit.errors import InputError, OutputExistsError, TokenizerMismatchError
from tokkit.pipelines.manifest import FORMAT_VERSION, MANIFEST_NAME, read_manifest

LOCK_NAME = ".tokkit.lock"
_SHARD = re.compile(r"^shard-\d+\.parquet$")
_TEMP = re.compile(r"^\.(manifest\.json|shard-\d+\.parquet)\..*\.tmp$")


def _is_ours(name: str) -> bool:
    return name in (MANIFEST_NAME, LOCK_NAME) or bool(_SHARD.match(name) or _TEMP.match(name))


def _plan_difference(previous: dict[str, Any], started: dict[str, Any]) -> str:
    if previous.get("shard_size") != started["shard_size"]:
        return f"--shard-size was {previous.get('shard_size')}, now {started['shard_size']}"
    old, new = set(previous.get("sources", {})), set(started["sources"])
    if old != new:
        return f"{len(new - old)} inputs added and {len(old - new)} removed since"
    return "some inputs changed size since"


def check_out_dir(out_dir: str | os.PathLike, input_dir: str | os.PathLike, started: dict[str, Any], *,
                  force: bool) -> None:
    """Accept a new or empty folder, or one holding this same job (to resume); refuse anything else."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"--out-dir {out} is a file; pass a folder")
    source, target = Path(input_dir).resolve(), out.resolve()
    if target == source or source in target.parents:
        raise InputError(f"--out-dir {out} is inside the input folder {input_dir}; the shards would be read as inputs")
    if not out.exists():
        return
    names = sorted(os.listdir(out))
    foreign = [name for name in names if not _is_ours(name)]
    if foreign:
        raise OutputExistsError(f"{out} already holds other files (e.g. {foreign[0]}); choose an empty or new --out-dir")
    previous = read_manifest(out)
    if MANIFEST_NAME in names and previous is None:
        raise OutputExistsError(f"{out / MANIFEST_NAME} is not a tokkit shard manifest; choose an empty or new --out-dir")
    if force:
        return
    if previous is None:
        if any(_SHARD.match(name) for name in names):
            raise OutputExistsError(f"{out} holds shards but no {MANIFEST_NAME}; use --force to start over or another --out-dir")
        return
    if previous.get("format_version") != FORMAT_VERSION:
        raise OutputExistsError(f"{out} holds shards of format version {previous.get('format_version')}; this tokkit "
                                f"writes version {FORMAT_VERSION}; use --force to start over or another --out-dir")
    made_by, now = previous.get("tokenizer") or {}, started["tokenizer"]
    if made_by.get("hash") != now["hash"]:
        raise TokenizerMismatchError(
            f"{out} holds shards made by tokenizer {made_by.get('name') or '?'} (hash {made_by.get('hash')}), "
            f"but this run uses {now['name']} (hash {now['hash']}); resume with the same tokenizer, "
            f"or use --force to start over or another --out-dir")
    if previous.get("options", {}) != started.get("options", {}):
        raise OutputExistsError(f"{out} holds shards encoded with options {previous.get('options', {})}, but this run "
                                f"asks for {started.get('options', {})}; resume with the same options, or use --force "
                                f"to start over or another --out-dir")
    if previous.get("plan_hash") != started["plan_hash"]:
        raise OutputExistsError(f"{out} holds shards of another job ({_plan_difference(previous, started)}); "
                                f"use --force to start over or another --out-dir")


def clear_out_dir(out_dir: str | os.PathLike, *, shards_too: bool) -> None:
    """Delete temp files left by a killed run, and with ``shards_too`` every shard and the manifest."""
    for path in Path(out_dir).iterdir():
        if _TEMP.match(path.name) or (shards_too and (_SHARD.match(path.name) or path.name == MANIFEST_NAME)):
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def locked_out_dir(out_dir: str | os.PathLike) -> Iterator[Path]:
    """Create ``out_dir`` and hold an exclusive lock on it, so two runs never write the same shards."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lock_path = out / LOCK_NAME
    with open(lock_path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputExistsError(f"another tokkit run is writing {out}; wait for it or use another --out-dir") from None
        try:
            yield out
        finally:
            lock_path.unlink(missing_ok=True)
