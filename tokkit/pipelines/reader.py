"""Read a shard folder back as Tokens (pyarrow only; the layout is plain enough for any parquet reader)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from tokkit.core.tokens import Tokens
from tokkit.errors import InputError
from tokkit.pipelines.manifest import read_manifest
from tokkit.pipelines.records import from_record


def finished_manifest(out_dir: str | os.PathLike) -> dict:
    """The manifest of a completed shard folder, or an InputError saying why it cannot be read yet."""
    manifest = read_manifest(out_dir)
    if manifest is None:
        raise InputError(f"{out_dir} holds no tokkit shard manifest")
    if not manifest.get("complete"):
        raise InputError(f"{out_dir} is unfinished; rerun the same tokkit encode command to complete it")
    return manifest


def iter_shard_file(out_dir: str | os.PathLike, manifest: dict, index: int) -> Iterator[Tokens]:
    """The items of shard ``index``, with the shard folder's shared metadata and their ``source``."""
    import pyarrow.parquet as pq

    shared = {"modality": manifest["modality"], "tokenizer": manifest["tokenizer"],
              "codebook_size": manifest["codebook_size"]}
    columns = pq.read_table(Path(out_dir) / manifest["shards"][index]["file"]).to_pydict()
    for source, codes, shape, meta in zip(columns["source"], columns["codes"], columns["shape"], columns["meta"]):
        tokens = from_record(codes, shape, meta, shared)
        tokens.meta.setdefault("source", source)
        yield tokens


def iter_shard_tokens(out_dir: str | os.PathLike) -> Iterator[Tokens]:
    """Every item of a finished shard folder, in input order, with its full metadata and ``source``."""
    manifest = finished_manifest(out_dir)
    for index in range(len(manifest["shards"])):
        yield from iter_shard_file(out_dir, manifest, index)
