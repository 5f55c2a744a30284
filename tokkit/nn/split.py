"""Compiled elementwise kernels (Snake, ELU) split over torch's thread count: contiguous parts of the work run
at once in a persistent thread pool (the kernels release the GIL), so they scale with the threads a user gives torch
like the convolutions around them. Each element's arithmetic is unchanged by the split."""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Callable

#: fewest elements a part gets (smaller parts cost more to hand over than they save)
MIN_PART_ELEMENTS = 65536

_pools: dict[int, concurrent.futures.ThreadPoolExecutor] = {}


os.register_at_fork(after_in_child=_pools.clear)  # a forked child has none of the parent's pool threads


def _pool(workers: int) -> concurrent.futures.ThreadPoolExecutor:
    if workers not in _pools:
        _pools[workers] = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="tokkit-kernel")
    return _pools[workers]


def run_split(kernel: Callable[[int, int], None], count: int, elements: int) -> None:
    """``kernel(start, stop)`` over ``[0, count)`` (``count`` units of ``elements`` elements in all) in as many
    contiguous parts as torch's thread count and :data:`MIN_PART_ELEMENTS` allow; the first part in the caller."""
    import torch

    parts = max(1, min(torch.get_num_threads(), count, elements // MIN_PART_ELEMENTS))
    if parts == 1:
        kernel(0, count)
        return
    bounds = [count * i // parts for i in range(parts + 1)]
    rest = [_pool(parts - 1).submit(kernel, bounds[i], bounds[i + 1]) for i in range(1, parts)]
    kernel(bounds[0], bounds[1])
    for future in rest:
        future.result()
