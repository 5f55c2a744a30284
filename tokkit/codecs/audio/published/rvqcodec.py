"""What the RVQ-coded ports (EnCodec, DAC, Mimi) share: latents -> RVQ codes -> latents -> audio, with a prefix of levels."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class RVQCodec(nn.Module):
    """Subclasses set ``config`` (with ``n_q``), ``encoder``, ``decoder``, ``quantizer`` (a :class:`tokkit.quant.RVQ`)
    and :meth:`latents`; codes are (B, q, T), latents (B, dimension, T)."""

    def latents(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio (B, N) -> pre-quantization latents (B, dimension, T)."""
        raise NotImplementedError

    def quantize(self, latents: torch.Tensor, n_q: int) -> torch.Tensor:
        """Latents (B, dimension, T) -> codes (B, n_q, T) (the first ``n_q`` RVQ levels)."""
        return self.quantizer.encode(latents.transpose(1, 2), n_q).permute(0, 2, 1)

    def dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, q, T) -> quantized latents (B, dimension, T)."""
        return self.quantizer.decode(codes.permute(0, 2, 1)).transpose(1, 2)

    def encode(self, audio: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Audio (B, N) -> codes (B, n_q, T)."""
        return self.quantize(self.latents(audio), n_q or self.config.n_q)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, q, T) -> audio (B, ~T * hop)."""
        return self.decoder(self.dequantize(codes))[:, 0]

    def stream_encoder(self, audio: torch.Tensor, state: dict[str, Any], final: bool) -> torch.Tensor:
        """Causal models: next piece of audio (B, 1, n) -> the latents it completes (B, dimension, t)."""
        return self.encoder.stream(audio, state, final)

    def stream_decoder(self, latents: torch.Tensor, state: dict[str, Any], final: bool) -> torch.Tensor:
        """Causal models: next quantized latents (B, dimension, t) -> their audio (B, 1, t * hop)."""
        return self.decoder.stream(latents, state, final)
