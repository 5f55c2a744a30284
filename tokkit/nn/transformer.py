"""Pre-norm transformer blocks (attention + MLP, optional causal mask), shared by the image, video and
3D tokenizers and the audio ports so that every transformer in tokkit is built from the same parts.

Options used by causal audio models (Mimi): rotary position embeddings (``rope_max_period``, interleaved
pairs), a causal attention window (``context``: a position sees itself and the ``context - 1`` before it),
layer scale, bias-free projections, no final norm, and :meth:`Transformer.stream`: pieces in order with a
cache of the last ``context - 1`` keys and values, so long inputs run in bounded memory.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def apply_rope(x: torch.Tensor, offset: int, max_period: float) -> torch.Tensor:
    """Rotary embedding of (B, heads, T, D) at positions ``offset .. offset + T - 1``; channel pairs
    (2i, 2i + 1) rotate by ``position * max_period ** (-2i / D)`` (computed in float32)."""
    d = x.shape[-1]
    freqs = torch.exp(torch.arange(d // 2, device=x.device, dtype=torch.float32) * (-math.log(max_period) * 2 / d))
    steps = offset + torch.arange(x.shape[-2], device=x.device, dtype=torch.float32)
    angle = freqs * steps[:, None]
    cos, sin = torch.cos(angle), torch.sin(angle)
    pairs = x.float().view(*x.shape[:-1], d // 2, 2)
    real, imag = pairs[..., 0], pairs[..., 1]
    return torch.stack([real * cos - imag * sin, real * sin + imag * cos], dim=-1).view(x.shape).to(x.dtype)


class Attention(nn.Module):
    """Multi-head self-attention over (B, T, dim) with an optional causal mask, optional rotary positions
    (``rope_max_period``) and an optional causal window of ``context`` positions."""

    def __init__(self, dim: int, heads: int, *, bias: bool = True, rope_max_period: float | None = None,
                 context: int | None = None) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        if context is not None and context < 1:
            raise ValueError(f"attention context must be >= 1, got {context}")
        self.heads = heads
        self.rope_max_period = rope_max_period
        self.context = context
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.out = nn.Linear(dim, dim, bias=bias)

    def forward(self, x: torch.Tensor, causal: bool = False, state: dict[str, Any] | None = None) -> torch.Tensor:
        """x (B, T, dim) -> (B, T, dim); position t sees only positions <= t when ``causal`` (and > t - context
        with a window). ``state`` (causal only): x continues the sequence the state has seen; it keeps the
        position and the last ``context - 1`` rotated keys and values."""
        batch, length, dim = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        offset = state.get("offset", 0) if state is not None else 0
        if self.rope_max_period is not None:
            q, k = apply_rope(q, offset, self.rope_max_period), apply_rope(k, offset, self.rope_max_period)
        if state is not None:
            if not causal:
                raise ValueError("only causal attention runs as a stream")
            if "k" in state:
                k, v = torch.cat([state["k"], k], dim=2), torch.cat([state["v"], v], dim=2)
            keep = k.shape[2] if self.context is None else min(k.shape[2], self.context - 1)
            state.update(k=k[:, :, k.shape[2] - keep:], v=v[:, :, v.shape[2] - keep:], offset=offset + length)
        past = k.shape[2] - length
        if self.context is None and past == 0:
            mixed = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        else:
            if not causal:
                raise ValueError("an attention window needs causal attention")
            delta = (past + torch.arange(length, device=x.device))[:, None] - torch.arange(k.shape[2], device=x.device)
            allowed = delta >= 0
            if self.context is not None:
                allowed &= delta < self.context
            mixed = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        return self.out(mixed.transpose(1, 2).reshape(batch, length, dim))


class TransformerBlock(nn.Module):
    """x + attn(norm(x)), then x + mlp(norm(x)); the residual stream stays un-normalized (pre-norm).
    ``layer_scale`` (initial value) scales each branch by a learned per-channel ``attention_scale`` /
    ``mlp_scale``; ``bias=False`` drops the biases of every linear layer (not of the norms)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, *, bias: bool = True,
                 layer_scale: float | None = None, rope_max_period: float | None = None,
                 context: int | None = None) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.attention_norm = nn.LayerNorm(dim)
        self.attention = Attention(dim, heads, bias=bias, rope_max_period=rope_max_period, context=context)
        self.mlp_norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden, bias=bias), nn.GELU(), nn.Linear(hidden, dim, bias=bias))
        if layer_scale is not None:
            self.attention_scale = nn.Parameter(torch.full((dim,), float(layer_scale)))
            self.mlp_scale = nn.Parameter(torch.full((dim,), float(layer_scale)))
        else:
            self.attention_scale = self.mlp_scale = None

    def forward(self, x: torch.Tensor, causal: bool = False, state: dict[str, Any] | None = None) -> torch.Tensor:
        """x (B, T, dim) -> (B, T, dim); ``state``: the attention's stream state (see :class:`Attention`)."""
        update = self.attention(self.attention_norm(x), causal=causal, state=state)
        x = x + (update if self.attention_scale is None else self.attention_scale * update)
        update = self.mlp(self.mlp_norm(x))
        return x + (update if self.mlp_scale is None else self.mlp_scale * update)


class Transformer(nn.Module):
    """``depth`` pre-norm blocks followed by a final LayerNorm (unless ``final_norm=False``):
    (B, T, dim) -> (B, T, dim). The keyword options are :class:`TransformerBlock`'s."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float = 4.0, causal: bool = False, *,
                 final_norm: bool = True, **block_options: Any) -> None:
        super().__init__()
        self.causal = causal
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, mlp_ratio, **block_options) for _ in range(depth))
        self.norm = nn.LayerNorm(dim) if final_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, dim) -> (B, T, dim): every block (causally if built with ``causal=True``), then a LayerNorm."""
        for block in self.blocks:
            x = block(x, causal=self.causal)
        return self.norm(x)

    def stream(self, x: torch.Tensor, state: dict[int, Any]) -> torch.Tensor:
        """Causal only: the next piece (B, t, dim) of a sequence -> its (B, t, dim); pieces in order give
        ``forward`` of the whole (to float rounding), keeping at most ``context - 1`` past keys per block."""
        if not self.causal:
            raise ValueError("only a causal transformer runs as a stream")
        if x.shape[1] == 0:
            return x
        for index, block in enumerate(self.blocks):
            x = block(x, causal=True, state=state.setdefault(index, {}))
        return self.norm(x)


class CrossAttention(nn.Module):
    """Multi-head attention of queries (B, Q, dim) over a context (B, T, dim) (Perceiver / 3DShape2VecSet)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def keys_values(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """context (B, T, dim) -> keys and values (B, heads, T, dim / heads), reusable for many query sets."""
        batch, length, dim = context.shape
        k, v = self.kv(context).view(batch, length, 2, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        return k, v

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                kv: tuple[torch.Tensor, torch.Tensor] | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, Q, dim) attends to ``context`` (B, T, dim) (or precomputed ``kv``) -> (B, Q, dim);
        ``bias`` (B, heads, Q, T) is added to the attention logits (e.g. a distance penalty)."""
        batch, length, dim = x.shape
        k, v = kv if kv is not None else self.keys_values(context)
        q = self.q(x).view(batch, length, self.heads, dim // self.heads).transpose(1, 2)
        mixed = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.out(mixed.transpose(1, 2).reshape(batch, length, dim))


class CrossAttentionBlock(nn.Module):
    """x + cross_attn(norm(x), norm(context)), then x + mlp(norm(x)): queries read a context (pre-norm)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.query_norm = nn.LayerNorm(dim)
        self.context_norm = nn.LayerNorm(dim)
        self.attention = CrossAttention(dim, heads)
        self.mlp_norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def keys_values(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The context's keys and values, to answer many query batches against one context."""
        return self.attention.keys_values(self.context_norm(context))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                kv: tuple[torch.Tensor, torch.Tensor] | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, Q, dim), context (B, T, dim) or its ``keys_values``, optional logit ``bias``
        (B, heads, Q, T) -> (B, Q, dim)."""
        if kv is None:
            kv = self.keys_values(context)
        x = x + self.attention(self.query_norm(x), kv=kv, bias=bias)
        return x + self.mlp(self.mlp_norm(x))
