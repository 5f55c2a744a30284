"""k-means (k-means++ seeding, then Lloyd steps on the exact nearest-code kernel), used to
initialise VQ codebooks from data."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokkit.quant.nearest import Metric, nearest

if TYPE_CHECKING:
    import torch

_SEED_ROUNDS = 32  # D^2 seeding rounds; k-means++ exactly when k <= this


def kmeans(
    data: torch.Tensor,
    k: int,
    *,
    iters: int = 10,
    metric: Metric = "l2",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``k`` centres (k, d) for ``data`` (n, d): k-means++ seeds (Arthur & Vassilvitskii 2007), then
    ``iters`` Lloyd steps; empty clusters keep their centre. ``metric="cos"`` gives unit-norm centres."""
    import torch

    data = data.detach().float()
    if metric == "cos":
        data = torch.nn.functional.normalize(data, dim=-1)
    centres = _seed_plus_plus(data, k, generator)
    for _ in range(iters):
        assign = nearest(data, centres, metric=metric)
        counts = torch.bincount(assign, minlength=k).to(data.dtype)
        sums = torch.zeros_like(centres).index_add_(0, assign, data)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
        if metric == "cos":
            centres = torch.nn.functional.normalize(centres, dim=-1)
    return centres


def _seed_plus_plus(data: torch.Tensor, k: int, generator: torch.Generator | None) -> torch.Tensor:
    """D^2 seeding: seeds are data points drawn with probability proportional to the squared
    distance to the nearest seed so far. Drawn in at most ``_SEED_ROUNDS`` rounds (one seed per round
    for small k, exact k-means++), so the cost is one GEMM pass over the data, as for a Lloyd step."""
    import torch

    n = data.shape[0]
    rounds = min(k, _SEED_ROUNDS)
    sizes = [k // rounds + (1 if r < k % rounds else 0) for r in range(rounds)]
    squared = (data * data).sum(1)
    closest = torch.full((n,), float("inf"), device=data.device)
    picks = []
    for size in sizes:
        if picks:
            weights = closest.clamp_min(0).double().cpu()
            weights = weights + (1e-12 * float(weights.mean()) if float(weights.sum()) > 0 else 1.0)
        else:
            weights = torch.ones(n, dtype=torch.float64)
        new = torch.multinomial(weights, size, replacement=size > n, generator=generator).to(data.device)
        seeds = data[new]
        distance = squared[:, None] - 2 * data @ seeds.T + squared[new][None, :]
        closest = torch.minimum(closest, distance.min(1).values)
        picks.append(new)
    return data[torch.cat(picks)].clone()
