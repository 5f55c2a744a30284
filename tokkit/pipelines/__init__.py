"""tokkit inside training-data jobs: batch encoders, DataLoader helpers, and resumable token shards.

- :class:`TokenizeFn` — picklable batch encoder for HF ``datasets.map``, Ray Data ``map_batches``, loops.
- :func:`collate` — pad items into ``codes`` / ``lengths`` / ``attention_mask`` tensors.
- :class:`EncodedFiles` / :class:`ShardTokens` — torch IterableDatasets split across DataLoader workers:
  input files encoded on the fly, or the items of a finished shard folder.
- :func:`encode_to_shards` / :func:`iter_shard_tokens` — folder -> parquet shards + manifest (engines: local
  processes, HF datasets, Ray Data; identical bytes), and back.

Names load on first use, so ``import tokkit.pipelines`` imports neither torch nor pyarrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokkit.core.lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names below, for IDEs and type checkers
    from tokkit.pipelines.collation import collate as collate
    from tokkit.pipelines.file_dataset import EncodedFiles as EncodedFiles
    from tokkit.pipelines.file_dataset import ShardTokens as ShardTokens
    from tokkit.pipelines.reader import iter_shard_tokens as iter_shard_tokens
    from tokkit.pipelines.shards import encode_to_shards as encode_to_shards
    from tokkit.pipelines.threads import limit_threads as limit_threads
    from tokkit.pipelines.tokenize_fn import TokenizeFn as TokenizeFn

_EXPORTS = {
    "TokenizeFn": "tokkit.pipelines.tokenize_fn",
    "collate": "tokkit.pipelines.collation",
    "EncodedFiles": "tokkit.pipelines.file_dataset",
    "ShardTokens": "tokkit.pipelines.file_dataset",
    "encode_to_shards": "tokkit.pipelines.shards",
    "iter_shard_tokens": "tokkit.pipelines.reader",
    "limit_threads": "tokkit.pipelines.threads",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("tokkit.pipelines", _EXPORTS, globals())
