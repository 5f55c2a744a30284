"""Torch IterableDatasets split across DataLoader workers: ``EncodedFiles`` encodes input files on the
fly; ``ShardTokens`` reads a finished shard folder back (one shard per worker at a time)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Sequence

import torch

from tokkit.core.tokenizer import Tokenizer
from tokkit.core.tokens import Tokens
from tokkit.pipelines.plan import list_inputs
from tokkit.pipelines.reader import finished_manifest, iter_shard_file
from tokkit.pipelines.threads import limit_threads, thread_share
from tokkit.pipelines.tokenize_fn import TokenizeFn


class EncodedFiles(torch.utils.data.IterableDataset):
    """Yield the Tokens of each file (a folder's files in sorted order, or the paths given, in order).

    With ``num_workers=N`` in the DataLoader, worker ``k`` encodes files ``k, k+N, k+2N, ...``, so
    every file is encoded exactly once, and each worker keeps to its share of the cores. Failing
    files raise InputError, or are left out with ``skip_errors=True``.
    """

    def __init__(self, files: str | os.PathLike | Sequence[str | os.PathLike],
                 tokenizer: str | os.PathLike | Tokenizer, *, skip_errors: bool = False) -> None:
        if isinstance(files, (str, os.PathLike)) and Path(files).is_dir():
            found, _ = list_inputs(files)
            self.paths = [str(f.path) for f in found]
        else:
            self.paths = [os.fspath(p) for p in ([files] if isinstance(files, (str, os.PathLike)) else files)]
        self.fn = TokenizeFn(tokenizer, column="path", files=True, skip_errors=skip_errors)

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[Tokens]:
        worker = torch.utils.data.get_worker_info()
        paths = self.paths
        if worker is not None:
            limit_threads(thread_share(worker.num_workers))
            paths = paths[worker.id :: worker.num_workers]
        for path in paths:
            result = self.fn.encode_values([path])[0]
            if not isinstance(result, str):
                yield result


class ShardTokens(torch.utils.data.IterableDataset):
    """Yield the Tokens stored in a finished shard folder; with ``num_workers=N`` in the DataLoader,
    worker ``k`` reads shards ``k, k+N, ...``, so every item is read exactly once."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.out_dir = os.fspath(out_dir)
        self.manifest = finished_manifest(out_dir)

    def __len__(self) -> int:
        return int(self.manifest["totals"]["items"])

    def __iter__(self) -> Iterator[Tokens]:
        worker = torch.utils.data.get_worker_info()
        shards = range(len(self.manifest["shards"]))
        if worker is not None:
            shards = shards[worker.id :: worker.num_workers]
        for index in shards:
            yield from iter_shard_file(self.out_dir, self.manifest, index)
