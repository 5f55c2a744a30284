"""One shard: a parquet file of records, written deterministically and atomically.

Columns: ``source`` (string, the input's path relative to the input folder), ``codes``
(list<int32>, or list<int64> for codebooks over 2**31, the item's codes flattened in C order),
``shape`` (list<int32>), ``meta`` (string, the item's own metadata as JSON). The schema metadata
key ``tokkit.shard`` holds JSON facts about the shard (format version, tokenizer identity,
modality, codebook size, counts, skipped inputs). The same records give the same bytes: fixed
writer options, one row group, no timestamps.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any, Sequence

from tokkit.core.atomic import atomic_write_bytes
from tokkit.pipelines.records import code_dtype

SHARD_META_KEY = b"tokkit.shard"

#: writer options pinned so that equal records always give equal bytes
_WRITER_OPTIONS = {"compression": "zstd", "compression_level": 3, "use_dictionary": False,
                   "write_statistics": False, "version": "2.6", "data_page_version": "1.0"}


def shard_schema(codebook_size: int, facts: dict[str, Any]):
    """The arrow schema of a shard, with ``facts`` as its tokkit metadata."""
    import pyarrow as pa

    code_type = pa.int32() if code_dtype(codebook_size) == "int32" else pa.int64()
    return pa.schema(
        [pa.field("source", pa.string(), nullable=False), pa.field("codes", pa.list_(code_type), nullable=False),
         pa.field("shape", pa.list_(pa.int32()), nullable=False), pa.field("meta", pa.string(), nullable=False)],
        metadata={SHARD_META_KEY: json.dumps(facts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)},
    )


def write_shard(path: str | os.PathLike, sources: Sequence[str], records: Sequence[dict[str, Any]],
                codebook_size: int, facts: dict[str, Any]) -> Path:
    """Write the records (with their sources) to the parquet shard at ``path``, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = shard_schema(codebook_size, facts)
    code_type = schema.field("codes").type.value_type
    table = pa.table({
        "source": pa.array(list(sources), pa.string()),
        "codes": pa.array([r["codes"] for r in records], pa.list_(code_type)),
        "shape": pa.array([r["shape"] for r in records], pa.list_(pa.int32())),
        "meta": pa.array([r["meta"] for r in records], pa.string()),
    }, schema=schema)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=max(len(records), 1), **_WRITER_OPTIONS)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def read_shard_facts(path: str | os.PathLike) -> dict[str, Any] | None:
    """The tokkit facts of a finished shard, or None if ``path`` is missing or not a readable shard."""
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
        return json.loads(metadata[SHARD_META_KEY])
    except (OSError, KeyError, ValueError):  # any unreadable or foreign file counts as not finished
        return None
