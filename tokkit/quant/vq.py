"""Vector quantization with an EMA codebook (van den Oord et al. 2017; Razavi et al. 2019).

The codebook is the only state saved: EMA statistics, the "initialised" flag and the projection-free
fast path are derived and live in non-persistent buffers. Training: k-means initialisation on the
first batch, EMA updates with Laplace smoothing, dead-code reset from the batch, commitment loss,
straight-through or rotation-trick gradients. Inference goes through the exact nearest-code kernel.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import torch

from tokkit.core.config import JsonConfig
from tokkit.errors import InputError
from tokkit.quant.base import Quantizer
from tokkit.quant.gradients import GradientEstimator, apply_estimator
from tokkit.quant.kmeans import kmeans
from tokkit.quant.nearest import Metric, Scratch, default_chunk, nearest, prepare_search, search_rows
from tokkit.quant.workers import resolve_threads
from tokkit.quant.output import QuantizerOutput

if TYPE_CHECKING:
    import numpy as np


@dataclasses.dataclass
class VQConfig(JsonConfig):
    """``codebook_size`` K codes of width ``codebook_dim`` (default ``dim``; a linear projection is
    added when it differs from the latent width ``dim``). ``decay``: EMA rate of the codebook.
    ``dead_code_threshold``: a code whose EMA usage (vectors per batch) falls below it is reset to a
    batch vector (0 disables). ``gradient``: "ste" or "rotation"."""

    codebook_size: int = 1024
    dim: int = 256
    codebook_dim: int | None = None
    metric: Metric = "l2"
    decay: float = 0.99
    commitment_weight: float = 0.25
    kmeans_init: bool = True
    kmeans_iters: int = 10
    dead_code_threshold: float = 1.0
    gradient: GradientEstimator = "ste"
    epsilon: float = 1e-5

    def __post_init__(self) -> None:
        if self.codebook_size < 1:
            raise InputError(f"VQ codebook_size must be >= 1, got {self.codebook_size}")
        if self.dim < 1 or (self.codebook_dim is not None and self.codebook_dim < 1):
            raise InputError(f"VQ dim and codebook_dim must be >= 1, got {self.dim}, {self.codebook_dim}")
        if self.metric not in ("l2", "cos"):
            raise InputError(f"VQ metric must be 'l2' or 'cos', got {self.metric!r}")
        if self.gradient not in ("ste", "rotation"):
            raise InputError(f"VQ gradient must be 'ste' or 'rotation', got {self.gradient!r}")
        if not 0.0 <= self.decay < 1.0:
            raise InputError(f"VQ decay must be in [0, 1), got {self.decay}")


class VQ(Quantizer):
    """EMA vector quantizer. ``encode`` (..., dim) -> (...) int64; ``decode`` (...) -> (..., dim);
    ``forward`` -> :class:`QuantizerOutput` with losses {"commitment"}."""

    def __init__(self, config: VQConfig) -> None:
        super().__init__()
        self.config = config
        self.codebook_size = config.codebook_size
        self._set_widths(config.dim, config.codebook_dim or config.dim)

        shape = (self.codebook_size, self.codebook_dim)
        initial = torch.zeros(shape) if config.kmeans_init else self._normalise(torch.randn(shape))
        self.register_buffer("codebook", initial)
        self.register_buffer("initialized", torch.tensor(not config.kmeans_init), persistent=False)
        self.register_buffer("ema_size", torch.empty(self.codebook_size), persistent=False)
        self.register_buffer("ema_sum", torch.empty(shape), persistent=False)
        self._seed_ema()

    # -- public API ---------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> QuantizerOutput:
        """x (..., dim) -> (quantized (..., dim), indices (...), {"commitment": scalar})."""
        x = self._check_input(x)
        z = self.project_in(x)
        flat = self._normalise(z.reshape(-1, self.codebook_dim))
        if self.training and not bool(self.initialized):
            self._init_from(flat.detach())
        self._check_initialized()
        indices = nearest(flat.detach(), self.codebook, metric=self.config.metric)
        code = self.codebook[indices]
        if self.training and self.config.decay > 0:
            self._ema_update(flat.detach(), indices)
        commitment = torch.nn.functional.mse_loss(flat, code)
        quantized = apply_estimator(flat, code, self.config.gradient).reshape(z.shape)
        losses = {"commitment": self.config.commitment_weight * commitment}
        return QuantizerOutput(self.project_out(quantized), indices.reshape(z.shape[:-1]), losses)

    @torch.no_grad()
    def encode(self, x: torch.Tensor | np.ndarray, *, threads: int | None = None) -> torch.Tensor:
        """Latents (..., dim) -> nearest-code indices (...) int64 (exact, see :func:`nearest`).
        ``threads``: CPU worker threads (default ``torch.get_num_threads()``)."""
        x = self._check_input(x)
        self._check_initialized()
        threads = resolve_threads(threads)
        z = self.project_in(x)
        if z.dtype not in (torch.float32, torch.float64) or z.device != self.codebook.device:
            return nearest(z, self.codebook, metric=self.config.metric, threads=threads)
        work = torch.float64 if torch.float64 in (z.dtype, self.codebook.dtype) else torch.float32
        return search_rows(self.prepared_search(work), z.detach(), threads)

    @torch.no_grad()
    def decode(self, indices: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Indices (...) -> code vectors (..., dim)."""
        self._check_initialized()
        indices = self._check_indices(indices, self.codebook.device)
        return self.project_out(self.codebook[indices])

    def prepared_search(self, work_dtype: torch.dtype, scratch: Scratch | None = None) -> Any:
        """This codebook prepared for exact searches of ``work_dtype`` rows (see
        :func:`tokkit.quant.nearest.prepare_search`), kept across calls while the codebook tensor is the same
        and unmodified (its version counter), so norms, casts and the GEMM precision a search settled on are
        not redone per call. ``scratch``: buffers shared with the other levels of an RVQ."""
        book = self.codebook
        key = (book.data_ptr(), book._version, book.dtype, book.device, tuple(book.shape), self.config.metric,
               work_dtype, scratch)
        cached = self.__dict__.get("_search")
        if cached is not None and cached[0] == key:
            return cached[1]
        search = prepare_search(book, self.config.metric, work_dtype, default_chunk(book.shape[0]), scratch=scratch)
        self.__dict__["_search"] = (key, search)
        return search

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_search", None)  # derived (and holds locks): a copy prepares its own
        return state

    # -- training machinery ------------------------------------------------------------------
    @torch.no_grad()
    def _init_from(self, flat: torch.Tensor) -> None:
        """k-means on the first training batch; EMA statistics start from the cluster sizes."""
        centres = kmeans(flat, self.codebook_size, iters=self.config.kmeans_iters, metric=self.config.metric)
        self.codebook.copy_(centres)
        counts = torch.bincount(nearest(flat, centres, metric=self.config.metric), minlength=self.codebook_size)
        self.ema_size.copy_(counts)
        self.ema_sum.copy_(centres * counts[:, None])
        self.initialized.fill_(True)

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, indices: torch.Tensor) -> None:
        decay, eps = self.config.decay, self.config.epsilon
        counts = torch.bincount(indices, minlength=self.codebook_size).to(self.ema_size.dtype)
        sums = torch.zeros_like(self.ema_sum).index_add_(0, indices, flat.to(self.ema_sum.dtype))
        self.ema_size.mul_(decay).add_(counts, alpha=1 - decay)
        self.ema_sum.mul_(decay).add_(sums, alpha=1 - decay)
        total = self.ema_size.sum()
        smoothed = (self.ema_size + eps) / (total + self.codebook_size * eps) * total
        self.codebook.copy_(self._normalise(self.ema_sum / smoothed[:, None]))
        self._reset_dead_codes(flat)

    @torch.no_grad()
    def _reset_dead_codes(self, flat: torch.Tensor) -> None:
        """Codes used less than the threshold move onto random vectors of the current batch."""
        threshold = self.config.dead_code_threshold
        if threshold <= 0:
            return
        dead = (self.ema_size < threshold).nonzero().squeeze(1)
        if dead.numel() == 0:
            return
        picks = torch.randint(flat.shape[0], (dead.numel(),), device=flat.device)
        self.codebook[dead] = flat[picks].to(self.codebook.dtype)
        self.ema_size[dead] = threshold
        self.ema_sum[dead] = self.codebook[dead] * threshold

    def _seed_ema(self) -> None:
        """EMA statistics for a codebook that came without them (fresh or loaded): every code counts
        as used twice the dead-code threshold per batch, a grace period before any reset."""
        seed = max(1.0, 2 * self.config.dead_code_threshold)
        with torch.no_grad():
            self.ema_size.fill_(seed)
            self.ema_sum.copy_(self.codebook * seed)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args)
        if prefix + "codebook" in state_dict:
            self.initialized.fill_(True)
            self._seed_ema()

    # -- helpers -------------------------------------------------------------------------------
    def _normalise(self, v: torch.Tensor) -> torch.Tensor:
        """Unit rows for the cosine metric, unchanged for L2."""
        return torch.nn.functional.normalize(v, dim=-1) if self.config.metric == "cos" else v

    def _check_initialized(self) -> None:
        if not bool(self.initialized):
            raise InputError(
                "this VQ codebook is not initialised yet: run a training forward (k-means init) "
                "or load a trained state_dict first"
            )
