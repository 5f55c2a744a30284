"""Run a non-causal, translation-equivariant network over a long sequence in overlapping windows.

Each window of ``window`` input steps is run with ``context`` extra steps on each side (clipped at the
ends) and only its own part of the output is kept. When ``context`` covers the network's receptive field
and windows start on the network's grid (``align``: its strides, pooling or attention windows, and
:func:`tokkit.nn.layout.time_grid` for convolutions whose rounding depends on the call), the result is the
whole-sequence result, while memory is bounded by one window per worker.

``workers`` > 1 runs that many windows at once, each in its own thread with one intra-op torch thread
(torch ops release the GIL): on a few cores this scales better than splitting each small convolution
across threads. An input shorter than ``workers`` windows is cut into ``workers`` equal windows.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch

#: a short input is cut into one window per worker only when the added context costs at most this fraction of
#: the input (measured: SNAC's 16384-sample context on 3 s at 2 workers costs 46% and loses to intra-op threads)
PARALLEL_OVERHEAD = 0.25


def overlapped(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, window: int, context: int,
               ratio: tuple[int, int] = (1, 1), align: int = 1, workers: int = 1) -> torch.Tensor:
    """``fn`` (B, C, t) -> (B, C', t * out / in) applied to ``x`` (B, C, T) window by window -> (B, C', ~T * out / in).

    ``ratio`` = (in, out): output steps ``out`` per ``in`` input steps (an encoder with hop h: (h, 1); a
    decoder: (1, h)). ``window`` and ``context`` are rounded up to multiples of ``align`` input steps (the grid
    the network's strides, pooling or attention windows need). One window when ``x`` fits in it (and
    ``workers`` is 1); ``workers`` windows run at once (see the module docstring).
    """
    step_in, step_out = ratio
    align = max(1, align, step_in)
    total = x.shape[-1]
    window = -(-max(window, 1) // align) * align
    context = -(-max(context, 0) // align) * align
    workers = max(1, workers)
    if workers > 1 and 2 * (workers - 1) * max(context, align) <= PARALLEL_OVERHEAD * total <= PARALLEL_OVERHEAD * \
            workers * window:  # one window per worker, as equal as the grid allows
        cuts = sorted({min(total, round(i * total / workers / align) * align) for i in range(workers)} | {total})
        bounds = [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]
    elif total <= window + context:
        bounds = [(0, total)]
    else:
        bounds = [(start, min(start + window, total)) for start in range(0, total, window)]
    if len(bounds) == 1:
        return fn(x)

    def run(bound: tuple[int, int]) -> torch.Tensor:
        start, stop = bound
        lo, hi = max(0, start - context), min(total, stop + context)
        y = fn(x[..., lo:hi])
        first = (start - lo) * step_out // step_in
        last = first + (stop - start) * step_out // step_in if stop < total else y.shape[-1]
        return y[..., first:last]

    if workers == 1:
        return torch.cat([run(bound) for bound in bounds], dim=-1)
    grad = torch.is_grad_enabled()
    inference = torch.is_inference_mode_enabled()

    def one_thread(bound: tuple[int, int]) -> torch.Tensor:
        with torch.inference_mode(inference), torch.set_grad_enabled(grad):
            return run(bound)

    pieces: list[torch.Tensor] = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # process-wide: one intra-op thread for each worker; the caller's count comes back below
    try:
        with ThreadPoolExecutor(max_workers=min(workers, len(bounds))) as pool:
            for begin in range(0, len(bounds), workers):  # at most ``workers`` windows in memory at once
                pieces += list(pool.map(one_thread, bounds[begin:begin + workers]))
    finally:
        torch.set_num_threads(threads)
    return torch.cat(pieces, dim=-1)
