"""Pre-norm transformer blocks (attention + MLP, optional causal mask), shared by the image, video and
3D tokenizers so that every ViT-style model in tokkit is built from the same parts."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Multi-head self-attention over (B, T, dim) with an optional causal mask."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        """x (B, T, dim) -> (B, T, dim); position t sees only positions <= t when ``causal``."""
        batch, length, dim = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        mixed = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.out(mixed.transpose(1, 2).reshape(batch, length, dim))


class TransformerBlock(nn.Module):
    """x + attn(norm(x)), then x + mlp(norm(x)); the residual stream stays un-normalized (pre-norm)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.attention_norm = nn.LayerNorm(dim)
        self.attention = Attention(dim, heads)
        self.mlp_norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        """x (B, T, dim) -> (B, T, dim)."""
        x = x + self.attention(self.attention_norm(x), causal=causal)
        return x + self.mlp(self.mlp_norm(x))


class Transformer(nn.Module):
    """``depth`` pre-norm blocks followed by a final LayerNorm: (B, T, dim) -> (B, T, dim)."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float = 4.0, causal: bool = False) -> None:
        super().__init__()
        self.causal = causal
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, dim) -> (B, T, dim): every block (causally if built with ``causal=True``), then a LayerNorm."""
        for block in self.blocks:
            x = block(x, causal=self.causal)
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
