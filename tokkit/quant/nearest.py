"""Exact nearest-code search: chunked matmul + top-2, with a float64 re-check of near-ties.

The fast path scores every code as ``||c||^2 - 2 x.c`` (L2) or ``-x^.c^`` (cosine) with one GEMM per
chunk of rows, so memory is bounded by ``chunk x K`` scores. Float rounding can flip near-ties, so
each row's score error is bounded a priori (Higham's ``gamma_d`` bound for a length-``d`` dot product,
plus the rounding of the norms and the add); any row whose second-best score lies within twice that
bound of its best is re-decided among its candidates in float64 on the difference form
``||x - c||^2``. The result is the index a float64 brute force returns, the smallest on exact ties.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Union

import numpy as np

from tokkit.quant.checks import as_float_tensor, check_codebook, check_finite, check_vectors

if TYPE_CHECKING:
    import torch

Metric = Literal["l2", "cos"]
ArrayLike = Union["torch.Tensor", np.ndarray]

#: scores held at once per chunk (float32 elements): 4 Mi elements = 16 MiB
DEFAULT_SCORE_BUDGET = 1 << 22


def default_chunk(codebook_size: int, budget: int = DEFAULT_SCORE_BUDGET) -> int:
    """Rows per chunk so that ``rows x codebook_size`` scores fit in ``budget`` elements."""
    return max(1, budget // max(1, codebook_size))


def nearest(
    x: ArrayLike,
    codebook: ArrayLike,
    *,
    metric: Metric = "l2",
    chunk: int | None = None,
) -> ArrayLike:
    """Index of the nearest code for each vector: ``x`` (..., d), ``codebook`` (K, d) -> (...) int64.

    ``metric="l2"`` minimises Euclidean distance, ``"cos"`` maximises cosine similarity. ``chunk`` is
    the number of rows scored at once (default: 16 MiB of scores). Exact: equal to a float64 brute
    force, ties going to the smallest index. Returns a LongTensor on ``x``'s device, or a numpy int64
    array when ``x`` is a numpy array.
    """
    import torch

    if metric not in ("l2", "cos"):
        raise ValueError(f"metric must be 'l2' or 'cos', got {metric!r}")
    was_numpy = isinstance(x, np.ndarray)
    x = as_float_tensor(x, "x")
    codebook = as_float_tensor(codebook, "codebook").to(x.device)
    check_codebook(codebook)
    check_vectors(x, codebook.shape[1], "x")
    check_finite(x, "x")
    if chunk is None:
        chunk = default_chunk(codebook.shape[0])
    if not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive number of rows, got {chunk!r}")

    lead_shape = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    work_dtype = torch.float64 if torch.float64 in (x.dtype, codebook.dtype) else torch.float32
    search = _Search(codebook, metric, work_dtype)
    out = torch.empty(flat.shape[0], dtype=torch.long, device=x.device)
    for start in range(0, flat.shape[0], chunk):
        out[start : start + chunk] = search(flat[start : start + chunk])
    out = out.reshape(lead_shape)
    return out.cpu().numpy() if was_numpy else out


class _Search:
    """A codebook prepared once (cast, normalised, squared norms) and searched chunk by chunk."""

    def __init__(self, codebook: "torch.Tensor", metric: Metric, work_dtype: "torch.dtype") -> None:
        import torch

        self.metric = metric
        self.work_dtype = work_dtype
        self.codebook64 = codebook.to(torch.float64)
        dim = codebook.shape[1]
        unit = torch.finfo(work_dtype).eps / 2  # unit roundoff u
        gamma = dim * unit / (1 - dim * unit)  # |fl(x.c) - x.c| <= gamma * sum|x_i c_i|
        if metric == "cos":
            self.codebook64 = _unit_rows(self.codebook64)
            self.codes = self.codebook64.to(work_dtype)
            self.bias = None
            # |x^|,|c^| <= 1 + (d+2)u after rounding; the dot adds gamma; 5% slack covers cross terms
            self.abs_error = 1.05 * (gamma + 2 * (dim + 4) * unit)
        else:
            self.codes = codebook.to(work_dtype)
            sq = (self.codebook64 * self.codebook64).sum(1)
            self.bias = sq.to(work_dtype)
            self.max_norm = float(sq.max().sqrt())
            # per-score error <= (gamma + 3u) * (|x| + max|c|)^2; 5% slack for rounded norms
            self.rel_error = 1.05 * (gamma + 4 * unit)
        self.tiny = dim * torch.finfo(work_dtype).tiny

    def __call__(self, rows: "torch.Tensor") -> "torch.Tensor":
        import torch

        rows_w = rows.to(self.work_dtype)
        if self.metric == "cos":
            scores = -(_unit_rows(rows_w) @ self.codes.T)
            error = torch.full((rows.shape[0],), self.abs_error, dtype=self.work_dtype, device=rows.device)
        else:
            scores = torch.addmm(self.bias, rows_w, self.codes.T, alpha=-2)
            norms = torch.linalg.vector_norm(rows_w, dim=1)
            error = self.rel_error * (norms + self.max_norm) ** 2
        error = error + self.tiny
        if scores.shape[1] == 1:
            return torch.zeros(rows.shape[0], dtype=torch.long, device=rows.device)
        top_values, top_index = scores.topk(2, dim=1, largest=False)
        best = top_index[:, 0].clone()
        window = top_values[:, 0] + 2 * error  # the true best scores at most 2 * error above the min
        overflow = ~torch.isfinite(window)  # scores overflowed the work dtype: re-decide every code
        ambiguous = ((top_values[:, 1] <= window) | overflow).nonzero().squeeze(1)
        if ambiguous.numel():
            candidates = (scores[ambiguous] <= window[ambiguous, None]) | overflow[ambiguous, None]
            best[ambiguous] = self._recheck(rows[ambiguous], candidates)
        return best

    def _recheck(self, rows: "torch.Tensor", candidates: "torch.Tensor") -> "torch.Tensor":
        """Decide rows among their candidate codes in float64; ties go to the smallest index."""
        import torch

        rows64 = rows.to(torch.float64)
        if self.metric == "cos":
            rows64 = _unit_rows(rows64)
        row_of, code_of = candidates.nonzero(as_tuple=True)
        dim = rows64.shape[1]
        step = max(1, DEFAULT_SCORE_BUDGET // (2 * dim))
        distance = torch.empty(row_of.shape[0], dtype=torch.float64, device=rows.device)
        for start in range(0, row_of.shape[0], step):
            r = row_of[start : start + step]
            c = code_of[start : start + step]
            if self.metric == "cos":
                distance[start : start + step] = -(rows64[r] * self.codebook64[c]).sum(1)
            else:
                diff = rows64[r] - self.codebook64[c]
                distance[start : start + step] = (diff * diff).sum(1)
        n = rows.shape[0]
        inf = torch.full((n,), float("inf"), dtype=torch.float64, device=rows.device)
        least = inf.scatter_reduce(0, row_of, distance, reduce="amin")
        is_least = distance == least[row_of]
        sentinel = torch.full((n,), self.codes.shape[0], dtype=torch.long, device=rows.device)
        return sentinel.scatter_reduce(0, row_of[is_least], code_of[is_least], reduce="amin")


def _unit_rows(v: "torch.Tensor") -> "torch.Tensor":
    """Rows scaled to unit L2 norm; an all-zero row stays zero (cosine 0 with every code)."""
    import torch

    norms = torch.linalg.vector_norm(v, dim=-1, keepdim=True)
    return v / norms.clamp_min(torch.finfo(v.dtype).tiny)
