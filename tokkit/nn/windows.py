"""Run a non-causal, translation-equivariant network over a long sequence in overlapping windows.

Each window of ``window`` input steps is run with ``context`` extra steps on each side (clipped at the
ends) and only its own part of the output is kept. When ``context`` covers the network's receptive field
and windows start on the network's grid (``align``), the result is the whole-sequence result (up to float
rounding in the convolutions), while memory is bounded by one window.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def overlapped(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, window: int, context: int,
               ratio: tuple[int, int] = (1, 1), align: int = 1) -> torch.Tensor:
    """``fn`` (B, C, t) -> (B, C', t * out / in) applied to ``x`` (B, C, T) window by window -> (B, C', ~T * out / in).

    ``ratio`` = (in, out): output steps ``out`` per ``in`` input steps (an encoder with hop h: (h, 1); a
    decoder: (1, h)). ``window`` and ``context`` are rounded up to multiples of ``align`` input steps (the grid
    the network's strides, pooling or attention windows need). One window when ``x`` fits in it.
    """
    step_in, step_out = ratio
    align = max(1, align, step_in)
    window = -(-max(window, 1) // align) * align
    context = -(-max(context, 0) // align) * align
    total = x.shape[-1]
    if total <= window + context:
        return fn(x)
    pieces = []
    for start in range(0, total, window):
        lo, hi = max(0, start - context), min(total, start + window + context)
        y = fn(x[..., lo:hi])
        first = (start - lo) * step_out // step_in
        last = first + window * step_out // step_in if start + window < total else y.shape[-1]
        pieces.append(y[..., first:last])
    return torch.cat(pieces, dim=-1)
