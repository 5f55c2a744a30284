"""Lookup-free quantization (Yu et al. 2023, MAGVIT-v2): each channel's sign is one bit of the index.

The implicit codebook is {-s, +s}^b with b = log2(codebook_size), so nothing is searched or stored.
Training adds the entropy penalty that keeps codes confident per sample and diverse over the batch;
because the code distribution factorises over bits, both entropies are computed per bit (the batch
term as a sum of per-bit entropies, an upper bound on the joint entropy) in O(b) per vector instead
of O(2^b).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import torch

from tokkit.core.config import JsonConfig
from tokkit.errors import InputError
from tokkit.quant.base import ROWS_PER_THREAD, Quantizer
from tokkit.quant.gradients import straight_through
from tokkit.quant.output import QuantizerOutput

if TYPE_CHECKING:
    import numpy as np

_MAX_BITS = 62  # indices are int64


@dataclasses.dataclass
class LFQConfig(JsonConfig):
    """``codebook_size``: a power of two, 2^b; ``dim``: latent width (default b, no projection);
    ``scale``: code values are +-scale; ``temperature`` softens the bit probabilities of the
    entropy penalty; ``diversity_weight`` weighs batch entropy against per-sample entropy."""

    codebook_size: int = 1 << 16
    dim: int | None = None
    scale: float = 1.0
    commitment_weight: float = 0.25
    entropy_weight: float = 0.1
    diversity_weight: float = 1.0
    temperature: float = 1.0

    def __post_init__(self) -> None:
        size = self.codebook_size
        if size < 2 or size & (size - 1):
            raise InputError(f"LFQ codebook_size must be a power of two >= 2, got {size}")
        if self.bits > _MAX_BITS:
            raise InputError(f"LFQ supports at most 2**{_MAX_BITS} codes, got 2**{self.bits}")
        if self.dim is not None and self.dim < 1:
            raise InputError(f"LFQ dim must be >= 1, got {self.dim}")
        if self.scale <= 0 or self.temperature <= 0:
            raise InputError("LFQ scale and temperature must be positive")

    @property
    def bits(self) -> int:
        """Bits per index: log2(codebook_size)."""
        return self.codebook_size.bit_length() - 1


class LFQ(Quantizer):
    """Lookup-free quantizer. ``encode`` (..., dim) -> (...) int64; ``decode`` the inverse map;
    ``forward`` -> :class:`QuantizerOutput` with losses {"commitment", "entropy"}."""

    def __init__(self, config: LFQConfig) -> None:
        super().__init__()
        self.config = config
        self.bits = config.bits
        self.codebook_size = config.codebook_size
        self._set_widths(config.dim or self.bits, self.bits)
        self.register_buffer("powers", 2 ** torch.arange(self.bits, dtype=torch.long), persistent=False)

    def codes_to_indices(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes or latents (..., bits) -> indices (...): bit i is set where channel i is > 0."""
        return ((codes > 0).long() * self.powers).sum(-1)

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices (...) -> codes (..., bits) in {-scale, +scale}."""
        bits = (indices[..., None] & self.powers) > 0
        scale = self.config.scale
        return torch.where(bits, scale, -scale).to(torch.float32)

    def forward(self, x: torch.Tensor) -> QuantizerOutput:
        """x (..., dim) -> (quantized (..., dim), indices (...), {"commitment", "entropy"})."""
        x = self._check_input(x)
        z = self.project_in(x)
        scale = self.config.scale
        code = torch.where(z > 0, scale, -scale).to(z.dtype)
        indices = self.codes_to_indices(z.detach())
        commitment = torch.nn.functional.mse_loss(z, code)
        quantized = self.project_out(straight_through(z, code))
        losses = {
            "commitment": self.config.commitment_weight * commitment,
            "entropy": self.config.entropy_weight * self._entropy_penalty(z.reshape(-1, self.bits)),
        }
        return QuantizerOutput(quantized, indices, losses)

    @torch.no_grad()
    def encode(self, x: torch.Tensor | np.ndarray, *, threads: int | None = None) -> torch.Tensor:
        """Latents (..., dim) -> indices (...) int64, blocks of rows on ``threads`` CPU workers
        (default ``torch.get_num_threads()``; at most one per 2^18 rows, a short job stays on one)."""
        return self._encode_rows(self._check_input(x), self._encode_block, threads, rows_per_thread=ROWS_PER_THREAD)

    def _encode_block(self, rows: torch.Tensor) -> torch.Tensor:
        """Rows (n, dim) -> indices (n,): one compiled pass over the signs where built, else torch."""
        z = self.project_in(rows)
        lfq_bits = self._native_for(z, "lfq_bits")
        if lfq_bits is None or z.dtype not in (torch.float32, torch.float64):
            return self.codes_to_indices(z)
        z = z.contiguous()
        out = torch.empty(z.shape[0], dtype=torch.long)
        lfq_bits(z.data_ptr(), int(z.dtype == torch.float64), z.shape[0], self.bits, z.stride(0), out.data_ptr())
        return out

    @torch.no_grad()
    def decode(self, indices: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Indices (...) -> quantized vectors (..., dim)."""
        indices = self._check_indices(indices, self.powers.device)
        return self.project_out(self.indices_to_codes(indices))

    def _entropy_penalty(self, z: torch.Tensor) -> torch.Tensor:
        """Mean per-sample entropy minus ``diversity_weight`` x batch entropy, in nats, per bit summed.

        p(bit = 1 | z) = sigmoid(4 s z / T): the softmax over the two codes +-s of -(z - c)^2 / T.
        """
        logits = 4 * self.config.scale * z.float() / self.config.temperature
        p = torch.sigmoid(logits)
        per_sample = _binary_entropy(p).sum(-1).mean()
        batch = _binary_entropy(p.mean(0)).sum()
        return per_sample - self.config.diversity_weight * batch


def _binary_entropy(p: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of Bernoulli(p), elementwise, safe at 0 and 1."""
    q = 1 - p
    return -(p * p.clamp_min(1e-12).log() + q * q.clamp_min(1e-12).log())
