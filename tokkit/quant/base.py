"""What every quantizer shares: the optional projections between the latent width and the code
width, the input and index checks, and row-blocked encoding on the ``threads=`` workers."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from tokkit.quant.checks import as_float_tensor, as_index_tensor, check_finite, check_vectors
from tokkit.quant.workers import resolve_threads, run_tasks

try:  # the compiled passes (FSQ bins, LFQ bits); absent when installed without a C compiler
    from tokkit.quant import _kernels
except ImportError:  # pragma: no cover - exercised by forcing the fallback in the tests
    _kernels = None

if TYPE_CHECKING:
    import numpy as np

#: rows per encode task for the elementwise quantizers (FSQ, LFQ)
ENCODE_BLOCK = 1 << 13
#: rows each extra thread must get before the elementwise quantizers use it (~10 ms in the compiled
#: pass): waking a worker on a busy machine can cost a scheduler time slice, more than a smaller share saves
ROWS_PER_THREAD = 1 << 18


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

    @staticmethod
    def _native_for(t: torch.Tensor, name: str) -> Callable[..., Any] | None:
        """The compiled pass ``name`` when it is built and ``t`` lives on the CPU, else None: the caller
        runs its torch ops. A stale build that lacks ``name`` falls back too, unless
        TOKKIT_REQUIRE_KERNELS is set (CI), where it raises."""
        if t.device.type != "cpu" or _kernels is None:
            return None
        function = getattr(_kernels, name, None)
        if function is None and os.environ.get("TOKKIT_REQUIRE_KERNELS"):
            raise RuntimeError(f"tokkit.quant._kernels was built before it had {name}: rebuild it with "
                               "`python setup.py build_ext --inplace` (TOKKIT_REQUIRE_KERNELS is set)")
        return function

    def _encode_rows(
        self,
        x: torch.Tensor,
        kernel: Callable[[torch.Tensor], torch.Tensor],
        threads: int | None,
        *,
        block: int = ENCODE_BLOCK,
        inline: bool | None = None,
        trailing: tuple[int, ...] = (),
        rows_per_thread: int = 1,
    ) -> torch.Tensor:
        """``kernel`` (rows, dim) -> (rows, *trailing) int64 over blocks of rows of ``x`` (..., dim), on
        the ``threads`` single-threaded workers -> (..., *trailing) int64. Blocks have at least
        ``block`` rows (4 per thread where rows allow); ``inline`` (default: one block, or not on the
        CPU) runs the kernel once in the caller instead. At most one thread per ``rows_per_thread`` rows
        is used, so a short job is not spread over threads that cost more to wake than they save."""
        threads = resolve_threads(threads)
        flat = x.reshape(-1, x.shape[-1])
        rows = flat.shape[0]
        threads = max(1, min(threads, rows // rows_per_thread))
        if inline is None:
            inline = rows <= block or flat.device.type != "cpu"
        if inline:
            return kernel(flat).reshape(*x.shape[:-1], *trailing)
        out = torch.empty(rows, *trailing, dtype=torch.long)
        size = max(block, -(-rows // (4 * threads)))  # 4 tasks per thread: few, long-running tasks

        def task(i: int) -> None:
            part = slice(i * size, (i + 1) * size)
            out[part] = kernel(flat[part])

        run_tasks(task, -(-rows // size), threads)
        return out.reshape(*x.shape[:-1], *trailing)
