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
