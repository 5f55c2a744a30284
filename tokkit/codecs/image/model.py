"""The 1D image tokenizer network (TiTok-style): ViT encoder over patches + N latent tokens, FSQ,
and a ViT decoder that rebuilds the patches from any prefix of the quantized tokens.

Tokens past the kept prefix are replaced by one learned "dropped" embedding, so the decoder sees the
same input layout whatever K is; training draws K per sample (tail-token dropping, One-D-Piece),
which orders the tokens from coarse to fine.
"""

from __future__ import annotations

import torch
from torch import nn

from tokkit.codecs.image.config import ImageCodecConfig
from tokkit.nn.transformer import Transformer
from tokkit.quant.fsq import FSQ, FSQConfig
from tokkit.quant.truncation import prefix_mask


def _embedding(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.randn(*shape) * 0.02)


def sincos_1d(positions: torch.Tensor, width: int) -> torch.Tensor:
    """Transformer sine/cosine features (len(positions), width) of (float) positions."""
    frequencies = 1.0 / 10000 ** (torch.arange(width // 2, dtype=torch.float32) / (width // 2))
    angles = positions.float()[:, None] * frequencies[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def sincos_2d(grid: int, width: int) -> torch.Tensor:
    """2-D sine/cosine position features (grid*grid, width), row-major: half the width per axis."""
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    return torch.cat([sincos_1d(rows.reshape(-1), width // 2), sincos_1d(cols.reshape(-1), width // 2)], dim=1)


class ImageCodecModel(nn.Module):
    """images (B, 3, S, S) in [-1, 1] <-> indices (B, N) int64 in [0, codebook_size)."""

    def __init__(self, config: ImageCodecConfig) -> None:
        super().__init__()
        self.config = config
        width, patches = config.width, config.grid**2
        patch_dim = 3 * config.patch_size**2
        self.patch_in = nn.Linear(patch_dim, width)
        # position embeddings are learned but start from sine/cosine features (a spatial layout from step one)
        self.patch_position = nn.Parameter(sincos_2d(config.grid, width))
        self.latent_queries = _embedding(config.num_tokens, width)
        # linear maps along the token axis (patches -> latents, latents -> patches): a first-order route
        # between positions that attention must otherwise discover (a 300-step CPU probe without the
        # quantizer: 16.0 dB with them, 14.8 dB without)
        self.gather = nn.Linear(patches, config.num_tokens)
        self.scatter = nn.Linear(config.num_tokens, patches)
        self.encoder = Transformer(width, config.encoder_depth, config.heads, config.mlp_ratio)
        self.quantizer = FSQ(FSQConfig(**config.quantizer_options(), dim=width))
        self.latent_position = nn.Parameter(sincos_1d(torch.arange(config.num_tokens), width))
        self.dropped_token = _embedding(width)
        self.pixel_queries = nn.Parameter(sincos_2d(config.grid, width))
        self.decoder = Transformer(width, config.decoder_depth, config.heads, config.mlp_ratio)
        self.patch_out = nn.Linear(width, patch_dim)

    # -- patches ------------------------------------------------------------------------------
    def patchify(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> (B, grid*grid, 3*P*P), row-major patches."""
        p, g = self.config.patch_size, self.config.grid
        x = images.reshape(images.shape[0], 3, g, p, g, p).permute(0, 2, 4, 1, 3, 5)
        return x.reshape(images.shape[0], g * g, 3 * p * p)

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`patchify`."""
        p, g = self.config.patch_size, self.config.grid
        x = patches.reshape(patches.shape[0], g, g, 3, p, p).permute(0, 3, 1, 4, 2, 5)
        return x.reshape(patches.shape[0], 3, g * p, g * p)

    # -- halves ---------------------------------------------------------------------------------
    def encode_latents(self, images: torch.Tensor, *, patch_extra: torch.Tensor | None = None,
                       latent_extra: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 3, S, S) -> pre-quantization latents (B, N, width).

        ``patch_extra`` (B, grid*grid, width) and ``latent_extra`` (width,) or (B, N, width) are added to
        the patch and latent inputs: how a conditional model (the video tokenizer) feeds in context.
        """
        patches = self.patch_in(self.patchify(images)) + self.patch_position
        if patch_extra is not None:
            patches = patches + patch_extra
        queries = self.latent_queries + self.gather(patches.transpose(1, 2)).transpose(1, 2)
        if latent_extra is not None:
            queries = queries + latent_extra
        hidden = self.encoder(torch.cat([patches, queries], dim=1))
        return hidden[:, patches.shape[1]:]

    def decode_hidden(self, quantized: torch.Tensor, keep: torch.Tensor, *, query_extra: torch.Tensor | None = None,
                      latent_extra: torch.Tensor | None = None) -> torch.Tensor:
        """Quantized latents (B, N, width) of which the first ``keep[b]`` count -> the decoder's pixel-query
        states (B, grid*grid, width); ``query_extra``/``latent_extra`` add context as in :meth:`encode_latents`."""
        kept = prefix_mask(keep, self.config.num_tokens)[..., None]
        latents = torch.where(kept, quantized, self.dropped_token) + self.latent_position
        if latent_extra is not None:
            latents = latents + latent_extra
        queries = self.pixel_queries + self.scatter(latents.transpose(1, 2)).transpose(1, 2)
        if query_extra is not None:
            queries = queries + query_extra
        hidden = self.decoder(torch.cat([latents, queries], dim=1))
        return hidden[:, latents.shape[1]:]

    def decode_quantized(self, quantized: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Quantized latents (B, N, width) of which the first ``keep[b]`` count -> images (B, 3, S, S)."""
        return self.unpatchify(self.patch_out(self.decode_hidden(quantized, keep)))

    def forward(self, images: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training pass: images (B, 3, S, S), keep (B,) in 1..N -> (reconstruction, indices (B, N))."""
        quantized, indices, _ = self.quantizer(self.encode_latents(images))
        return self.decode_quantized(quantized, keep), indices

    @torch.inference_mode()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, S, S) in [-1, 1] -> all N token indices (B, N); prefixes are valid codes."""
        return self.quantizer.encode(self.encode_latents(images))

    @torch.inference_mode()
    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """indices (B, K) with 1 <= K <= N -> images (B, 3, S, S) clamped to [-1, 1]."""
        batch, length = indices.shape
        full = torch.zeros(batch, self.config.num_tokens, dtype=torch.long, device=indices.device)
        full[:, :length] = indices
        keep = torch.full((batch,), length, dtype=torch.long, device=indices.device)
        return self.decode_quantized(self.quantizer.decode(full), keep).clamp(-1, 1)
