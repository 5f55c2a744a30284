"""The shape tokenizer network (3DShape2VecSet-style): surface points -> a latent set by cross-attention
-> residual quantization -> an occupancy field answered by cross-attention at any query point.

As in 3DShape2VecSet the latent queries are farthest-point samples of the input (in farthest-point order:
the first latents spread over the whole shape, later ones fill in, which suits tail-token dropping). Each
decoded latent also predicts its anchor point (trained to match the farthest-point sample), and a query
attends to the latents with a learned penalty on its squared distance to their anchors, so the field is
local from the first training step instead of having to discover locality. Each latent also predicts a
unit normal, and the logit adds a plane prior: the attention-weighted (by distance to the anchors) signed
distance of the query to the latents' tangent planes, so 64 oriented anchors already give a rough solid.

Latents past a kept prefix are replaced by one learned "dropped" embedding and RVQ levels past a kept
depth add nothing, so one decoder serves every prefix; training draws both per shape (tail-token
dropping over the ordered latents, quantizer dropout over the levels), which orders the latents from
coarse to fine and the levels from coarse to fine.
"""

from __future__ import annotations

import math
from typing import NamedTuple

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


def farthest_point_order(points: torch.Tensor, count: int) -> torch.Tensor:
    """Indices (B, count) of greedy farthest-point samples of points (B, N, 3), starting from the point
    farthest from the centroid (deterministic); repeats the last pick when N < count."""
    batch, n, _ = points.shape
    picks = torch.empty(batch, count, dtype=torch.long, device=points.device)
    current = (points - points.mean(1, keepdim=True)).square().sum(-1).argmax(1)
    distance = torch.full((batch, n), float("inf"), device=points.device)
    rows = torch.arange(batch, device=points.device)
    for i in range(count):
        picks[:, i] = current
        distance = torch.minimum(distance, (points - points[rows, current][:, None]).square().sum(-1))
        current = distance.argmax(1)
    return picks


class Field(NamedTuple):
    """A decoded shape, ready for occupancy queries: attention keys and values (B, heads, M, d), the
    latents' predicted anchors (B, M, 3) and unit normals (B, M, 3), and which latents were kept (B, M) bool."""

    keys: torch.Tensor
    values: torch.Tensor
    anchors: torch.Tensor
    normals: torch.Tensor
    kept: torch.Tensor


class ShapeCodecModel(nn.Module):
    """surface points (B, N, 3) + normals (B, N, 3) <-> indices (B, M, depth); occupancy logits at queries."""

    def __init__(self, config: ShapeCodecConfig) -> None:
        super().__init__()
        self.config = config
        width = config.width
        features = 3 + 6 * config.fourier_bands
        self.point_in = nn.Linear(features + 3, width)
        self.anchor_in = nn.Linear(features, width)
        self.latent_queries = nn.Parameter(torch.randn(config.num_latents, width) * 0.02)
        self.gather = CrossAttentionBlock(width, config.heads, config.mlp_ratio)
        self.encoder = Transformer(width, config.encoder_depth, config.heads, config.mlp_ratio)
        self.quantizer = RVQ(RVQConfig(depth=config.depth, codebook_size=config.codebook_size, dim=width,
                                       codebook_dim=config.codebook_dim, quantizer_dropout=config.quantizer_dropout,
                                       kmeans_iters=3))
        self.latent_position = nn.Parameter(torch.randn(config.num_latents, width) * 0.02)
        self.dropped_latent = nn.Parameter(torch.randn(width) * 0.02)
        self.decoder = Transformer(width, config.decoder_depth, config.heads, config.mlp_ratio)
        self.anchor_out = nn.Linear(width, 3)
        self.normal_out = nn.Linear(width, 3)
        # the plane prior: logit += plane_gain * sum_j w_j (anchor_j - x) . normal_j, w = softmax of -distance^2
        self.log_plane_gain = nn.Parameter(torch.tensor(math.log(50.0)))
        self.log_plane_locality = nn.Parameter(torch.tensor(math.log(200.0)))
        self.query_in = nn.Linear(features, width)
        self.answer = CrossAttentionBlock(width, config.heads, config.query_hidden / width)
        # per-head distance penalty (log scale): exp(2.5) ~ 12 per unit^2 to start, learned from there
        self.log_locality = nn.Parameter(torch.linspace(1.0, 4.0, config.heads))
        self.answer_norm = nn.LayerNorm(width)
        self.occupancy_out = nn.Linear(width, 1)

    # -- encoder ------------------------------------------------------------------------------
    def encode_latents(self, points: torch.Tensor, normals: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """points, normals (B, N, 3) in the unit cube -> (pre-quantization latents (B, M, width), the anchors:
        farthest-point samples (B, M, 3) in that order, and their normals (B, M, 3))."""
        bands = self.config.fourier_bands
        tokens = self.point_in(torch.cat([fourier_features(points, bands), normals], dim=-1))
        index = farthest_point_order(points, self.config.num_latents)[..., None].expand(-1, -1, 3)
        anchors, anchor_normals = torch.gather(points, 1, index), torch.gather(normals, 1, index)
        queries = self.latent_queries + self.anchor_in(fourier_features(anchors, bands))
        return self.encoder(self.gather(queries, tokens)), anchors, anchor_normals

    def quantize(self, latents: torch.Tensor) -> QuantizerOutput:
        """Training-mode RVQ with quantizer dropout: (quantized (B, M, width), indices (B, M, depth), losses)."""
        return self.quantizer(latents)

    # -- decoder ------------------------------------------------------------------------------
    def decode_latents(self, quantized: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Quantized latents (B, M, width) of which the first ``keep[b]`` count -> decoded set (B, M, width)."""
        kept = prefix_mask(keep, self.config.num_latents)[..., None]
        latents = torch.where(kept, quantized, self.dropped_latent) + self.latent_position
        return self.decoder(latents)

    def field(self, decoded: torch.Tensor, keep: torch.Tensor) -> Field:
        """What ``occupancy`` queries: the decoded set's keys and values, predicted anchors (B, M, 3) and
        which latents were kept (the first ``keep[b]``)."""
        keys, values = self.answer.keys_values(decoded)
        normals = torch.nn.functional.normalize(self.normal_out(decoded), dim=-1)
        return Field(keys, values, self.anchor_out(decoded), normals, prefix_mask(keep, self.config.num_latents))

    def occupancy(self, queries: torch.Tensor, field: Field) -> torch.Tensor:
        """Occupancy logits (B, Q) at query points (B, Q, 3) of a decoded ``field``."""
        x = self.query_in(fourier_features(queries, self.config.fourier_bands))
        # -|x - a_j|^2 = 2 x . a_j - |a_j|^2 - |x|^2, and softmax over j ignores the per-query |x|^2: one
        # matmul (B, Q, 3) x (B, 3, M) instead of the (B, Q, M, 3) differences
        closeness = 2 * queries @ field.anchors.transpose(1, 2) - field.anchors.square().sum(-1)[:, None]  # (B, Q, M)
        bias = self.log_locality.exp()[None, :, None, None] * closeness[:, None]
        weights = self.log_plane_locality.exp() * closeness
        if not bool(field.kept.all()):  # masking is a no-op (and a full pass over (B, H, Q, M)) when all are kept
            bias = bias.masked_fill(~field.kept[:, None, None, :], float("-inf"))
            weights = weights.masked_fill(~field.kept[:, None, :], float("-inf"))
        learned = self.occupancy_out(self.answer_norm(self.answer(x, kv=(field.keys, field.values), bias=bias))).squeeze(-1)
        weights = weights.softmax(-1)
        # (a_j - x) . n_j = a_j . n_j - x . n_j: again one matmul
        offsets = (field.anchors * field.normals).sum(-1)[:, None]  # (B, 1, M)
        signed = offsets - queries @ field.normals.transpose(1, 2)  # (B, Q, M)
        return learned + self.log_plane_gain.exp() * (weights * signed).sum(-1)

    def forward(self, points: torch.Tensor, normals: torch.Tensor, queries: torch.Tensor,
                keep: torch.Tensor) -> tuple[torch.Tensor, QuantizerOutput, Field, torch.Tensor, torch.Tensor]:
        """Training pass: points, normals (B, N, 3), queries (B, Q, 3), keep (B,) in 1..M -> (occupancy
        logits (B, Q), the quantizer's output, the decoded field (predicted anchors and normals), the true
        anchors (B, M, 3) and their normals (B, M, 3))."""
        latents, anchors, anchor_normals = self.encode_latents(points, normals)
        out = self.quantize(latents)
        field = self.field(self.decode_latents(out.quantized, keep), keep)
        return self.occupancy(queries, field), out, field, anchors, anchor_normals

    # -- inference ----------------------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, points: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
        """points, normals (B, N, 3) -> token indices (B, depth * M), level-major (all latents' first
        codes, then all second codes, ...): every prefix is a valid, coarser code."""
        indices = self.quantizer.encode(self.encode_latents(points, normals)[0])  # (B, M, depth)
        return indices.transpose(1, 2).reshape(points.shape[0], -1)

    @torch.inference_mode()
    def decode_field(self, tokens: torch.Tensor) -> Field:
        """A prefix of K tokens (B, K), 1 <= K <= depth * M -> the field that ``occupancy`` queries."""
        batch, length = tokens.shape
        m, depth = self.config.num_latents, self.config.depth
        grid = torch.full((batch, depth * m), -1, dtype=torch.long, device=tokens.device)
        grid[:, :length] = tokens
        indices = grid.view(batch, depth, m).transpose(1, 2)  # (B, M, depth), -1 where not sent
        quantized = self.quantizer.decode(indices, missing_ok=True)
        keep = torch.full((batch,), min(length, m), dtype=torch.long, device=tokens.device)
        return self.field(self.decode_latents(quantized, keep), keep)
