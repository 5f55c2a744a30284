"""The shape tokenizer network (3DShape2VecSet-style): surface points -> a latent set by cross-attention
-> residual quantization -> an occupancy field answered by cross-attention at any query point.

Latents past a kept prefix are replaced by one learned "dropped" embedding and RVQ levels past a kept
depth add nothing, so one decoder serves every prefix; training draws both per shape (tail-token
dropping over the ordered latents, quantizer dropout over the levels), which orders the latents from
coarse to fine and the levels from coarse to fine.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tokkit.codecs.shape.config import ShapeCodecConfig
from tokkit.nn.transformer import CrossAttentionBlock, Transformer
from tokkit.quant.output import QuantizerOutput
from tokkit.quant.rvq import RVQ, RVQConfig
from tokkit.quant.truncation import prefix_mask


def fourier_features(xyz: torch.Tensor, bands: int) -> torch.Tensor:
    """xyz (..., 3) in the unit cube -> [xyz, sin, cos of xyz * pi * 2^k for k < bands] (..., 3 + 6 * bands)."""
    frequencies = math.pi * 2.0 ** torch.arange(bands, dtype=xyz.dtype, device=xyz.device)
    angles = (xyz[..., None] * frequencies).flatten(-2)
    return torch.cat([xyz, angles.sin(), angles.cos()], dim=-1)


class ShapeCodecModel(nn.Module):
    """surface points (B, N, 3) + normals (B, N, 3) <-> indices (B, M, depth); occupancy logits at queries."""

    def __init__(self, config: ShapeCodecConfig) -> None:
        super().__init__()
        self.config = config
        width = config.width
        features = 3 + 6 * config.fourier_bands
        self.point_in = nn.Linear(features + 3, width)
        self.latent_queries = nn.Parameter(torch.randn(config.num_latents, width) * 0.02)
        self.gather = CrossAttentionBlock(width, config.heads, config.mlp_ratio)
        self.encoder = Transformer(width, config.encoder_depth, config.heads, config.mlp_ratio)
        self.quantizer = RVQ(RVQConfig(depth=config.depth, codebook_size=config.codebook_size, dim=width,
                                       codebook_dim=config.codebook_dim, quantizer_dropout=config.quantizer_dropout,
                                       kmeans_iters=3))
        self.latent_position = nn.Parameter(torch.randn(config.num_latents, width) * 0.02)
        self.dropped_latent = nn.Parameter(torch.randn(width) * 0.02)
        self.decoder = Transformer(width, config.decoder_depth, config.heads, config.mlp_ratio)
        self.query_in = nn.Linear(features, width)
        self.answer = CrossAttentionBlock(width, config.heads, config.query_hidden / width)
        self.answer_norm = nn.LayerNorm(width)
        self.occupancy_out = nn.Linear(width, 1)

    # -- encoder ------------------------------------------------------------------------------
    def encode_latents(self, points: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
        """points, normals (B, N, 3) in the unit cube -> pre-quantization latents (B, M, width)."""
        tokens = self.point_in(torch.cat([fourier_features(points, self.config.fourier_bands), normals], dim=-1))
        latents = self.gather(self.latent_queries.expand(points.shape[0], -1, -1), tokens)
        return self.encoder(latents)

    def quantize(self, latents: torch.Tensor) -> QuantizerOutput:
        """Training-mode RVQ with quantizer dropout: (quantized (B, M, width), indices (B, M, depth), losses)."""
        return self.quantizer(latents)

    # -- decoder ------------------------------------------------------------------------------
    def decode_latents(self, quantized: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Quantized latents (B, M, width) of which the first ``keep[b]`` count -> decoded set (B, M, width)."""
        kept = prefix_mask(keep, self.config.num_latents)[..., None]
        latents = torch.where(kept, quantized, self.dropped_latent) + self.latent_position
        return self.decoder(latents)

    def occupancy(self, queries: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Occupancy logits (B, Q) at query points (B, Q, 3), given the decoded set's ``keys_values``."""
        x = self.query_in(fourier_features(queries, self.config.fourier_bands))
        return self.occupancy_out(self.answer_norm(self.answer(x, kv=kv))).squeeze(-1)

    def field(self, decoded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of a decoded latent set (B, M, width): the field that ``occupancy`` queries."""
        return self.answer.keys_values(decoded)

    def forward(self, points: torch.Tensor, normals: torch.Tensor, queries: torch.Tensor,
                keep: torch.Tensor) -> tuple[torch.Tensor, QuantizerOutput]:
        """Training pass: points, normals (B, N, 3), queries (B, Q, 3), keep (B,) in 1..M ->
        (occupancy logits (B, Q), the quantizer's output)."""
        out = self.quantize(self.encode_latents(points, normals))
        decoded = self.decode_latents(out.quantized, keep)
        return self.occupancy(queries, self.field(decoded)), out

    # -- inference ----------------------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, points: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
        """points, normals (B, N, 3) -> token indices (B, depth * M), level-major (all latents' first
        codes, then all second codes, ...): every prefix is a valid, coarser code."""
        indices = self.quantizer.encode(self.encode_latents(points, normals))  # (B, M, depth)
        return indices.transpose(1, 2).reshape(points.shape[0], -1)

    @torch.inference_mode()
    def decode_field(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A prefix of K tokens (B, K), 1 <= K <= depth * M -> the field's keys and values for ``occupancy``."""
        batch, length = tokens.shape
        m, depth = self.config.num_latents, self.config.depth
        grid = torch.full((batch, depth * m), -1, dtype=torch.long, device=tokens.device)
        grid[:, :length] = tokens
        indices = grid.view(batch, depth, m).transpose(1, 2)  # (B, M, depth), -1 where not sent
        quantized = self.quantizer.decode(indices, missing_ok=True)
        keep = torch.full((batch,), min(length, m), dtype=torch.long, device=tokens.device)
        return self.field(self.decode_latents(quantized, keep))
