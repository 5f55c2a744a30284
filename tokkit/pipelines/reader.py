"""Read a shard folder back as Tokens (pyarrow only; the layout is plain enough for any parquet reader)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from tokkit.core.tokens import Tokens
from tokkit.errors import InputError
from tokkit.pipelines.manifest import read_manifest
from tokkit.pipelines.records import from_record


def iter_shard_tokens(out_dir: str | os.PathLike) -> Iterator[Tokens]:
    """Every item of a finished shard folder, in input order, with its full metadata and ``source``."""
    import pyarrow.parquet as pq

    manifest = read_manifest(out_dir)
    if manifest is None:
        raise InputError(f"{out_dir} holds no tokkit shard manifest")
    if not manifest.get("complete"):
        raise InputError(f"{out_dir} is unfinished; rerun the same tokkit encode command to complete it")
    shared = {"modality": manifest["modality"], "tokenizer": manifest["tokenizer"],
              "codebook_size": manifest["codebook_size"]}
    for shard in manifest["shards"]:
        table = pq.read_table(Path(out_dir) / shard["file"])
        columns = table.to_pydict()
        for source, codes, shape, meta in zip(columns["source"], columns["codes"], columns["shape"], columns["meta"]):
            tokens = from_record(codes, shape, meta, shared)
            tokens.meta.setdefault("source", source)
            yield tokens
