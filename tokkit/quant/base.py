"""What every quantizer shares: the optional projections between the latent width and the code
width, the input and index checks, and row-blocked encoding on the ``threads=`` workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from tokkit.quant.checks import as_float_tensor, as_index_tensor, check_finite, check_vectors
from tokkit.quant.workers import resolve_threads, run_tasks

if TYPE_CHECKING:
    import numpy as np

#: rows per encode task for the elementwise quantizers (FSQ, LFQ)
ENCODE_BLOCK = 1 << 15


class Quantizer(nn.Module):
    """Base of VQ, RVQ, FSQ and LFQ. Subclasses set ``codebook_size`` and call :meth:`_set_widths`."""

    dim: int
    codebook_dim: int
    codebook_size: int

    def _set_widths(self, dim: int, codebook_dim: int, bias: bool = True) -> None:
        """Latent width ``dim`` and code width ``codebook_dim``; a linear projection each way (saved
        as ``project_in`` / ``project_out``, with biases unless ``bias=False``) when they differ,
        identities otherwise."""
        self.dim, self.codebook_dim = dim, codebook_dim
        has_projection = dim != codebook_dim
        self.project_in = nn.Linear(dim, codebook_dim, bias=bias) if has_projection else nn.Identity()
        self.project_out = nn.Linear(codebook_dim, dim, bias=bias) if has_projection else nn.Identity()

    def _check_input(self, x: Any) -> torch.Tensor:
        """A finite floating tensor (..., dim) with at least one vector, from a tensor or numpy array."""
        x = as_float_tensor(x, "x")
        check_vectors(x, self.dim, "x")
        check_finite(x, "x")
        return x

    def _check_indices(self, indices: torch.Tensor | np.ndarray, device: torch.device) -> torch.Tensor:
        """Indices as a LongTensor on ``device``, each in [0, codebook_size)."""
        return as_index_tensor(indices, "indices", self.codebook_size).to(device)

    def _encode_rows(
        self, x: torch.Tensor, kernel: Callable[[torch.Tensor], torch.Tensor], threads: int | None
    ) -> torch.Tensor:
        """``kernel`` (rows, dim) -> (rows,) int64 over blocks of rows of ``x`` (..., dim), on the
        ``threads`` single-threaded workers (one block runs in the caller) -> (...) int64."""
        threads = resolve_threads(threads)
        flat = x.reshape(-1, x.shape[-1])
        rows = flat.shape[0]
        if rows <= ENCODE_BLOCK or flat.device.type != "cpu":
            return kernel(flat).reshape(x.shape[:-1])
        out = torch.empty(rows, dtype=torch.long)
        size = max(ENCODE_BLOCK, -(-rows // (4 * threads)))  # 4 tasks per thread: few, long-running tasks

        def task(i: int) -> None:
            block = slice(i * size, (i + 1) * size)
            out[block] = kernel(flat[block])

        run_tasks(task, -(-rows // size), threads)
        return out.reshape(x.shape[:-1])
