"""TiTok (Yu et al. 2024, "An Image is Worth 32 Tokens") and One-D-Piece (Miwa et al. 2025): 1D image
tokens from a ViT with latent tokens, an l2-normalised VQ, a ViT decoder that predicts MaskGIT-VQGAN
code logits per 16x16 patch, and MaskGIT's VQGAN pixel decoder fed the softmax-weighted codes.

Released two-stage tokenizers (TiTok S-128, B-64, L-32; One-D-Piece S/B/L-256) share one tensor layout;
One-D-Piece was trained with tail-token dropping, so any prefix of its tokens decodes. The port is
built from :class:`tokkit.nn.transformer.TransformerBlock`, :class:`tokkit.quant.VQ` (metric "cos": the
authors' l2-normalised lookup) and :class:`tokkit.nn.vqgan.VQGANDecoder`; :func:`from_reference` maps
the authors' state dict onto it. Images enter and leave the model in [-1, 1] (the authors use [0, 1]).
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tokkit.core.bitpack import bits_for
from tokkit.core.config import JsonConfig
from tokkit.core.device import reuse_freed_memory
from tokkit.errors import InputError, UnsupportedFormatError
from tokkit.nn.transformer import TransformerBlock
from tokkit.nn.vqgan import VQGANDecoder, VQGANDecoderConfig
from tokkit.nn.weights import load_checked
from tokkit.quant.vq import VQ, VQConfig

KIND = "image.published_titok"
#: what this family is, in messages (tokkit.codecs.published)
LABEL = "TiTok / One-D-Piece"
FAMILIES = ("titok", "one-d-piece")
#: the authors' ViT sizes: name -> (width, layers, heads); every one has 64-wide heads
MODEL_SIZES = {"small": (512, 8, 8), "base": (768, 12, 12), "large": (1024, 24, 16)}
HEAD_WIDTH = 64
#: latent tokens of the released One-D-Piece models (the released legacy TiTok models have 32, 64 or 128)
ONE_D_PIECE_TOKENS = 256


@dataclasses.dataclass
class TiTokConfig(JsonConfig):
    """One released TiTok-family tokenizer: ViT sizes, ``num_tokens`` latent tokens of ``codebook_size``
    codes, and the VQGAN pixel decoder over ``pixel_codes`` MaskGIT codes. ``family`` "one-d-piece"
    means any prefix of the tokens decodes; "titok" needs all ``num_tokens``."""

    kind = KIND

    name: str = "titok_l32"
    family: str = "titok"
    image_size: int = 256
    patch_size: int = 16
    num_tokens: int = 32
    codebook_size: int = 4096
    token_size: int = 12
    encoder_width: int = 1024
    encoder_depth: int = 24
    encoder_heads: int = 16
    decoder_width: int = 1024
    decoder_depth: int = 24
    decoder_heads: int = 16
    pixel_codes: int = 1024
    pixel_decoder: VQGANDecoderConfig = dataclasses.field(default_factory=VQGANDecoderConfig)

    def __post_init__(self) -> None:
        if isinstance(self.pixel_decoder, dict):
            self.pixel_decoder = VQGANDecoderConfig.from_dict(self.pixel_decoder)
        if self.family not in FAMILIES:
            raise InputError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if self.patch_size < 1 or self.image_size % self.patch_size:
            raise InputError(f"image_size {self.image_size} must be a multiple of patch_size {self.patch_size}")
        if self.grid * self.pixel_decoder.upsampling != self.image_size:
            raise InputError(f"the pixel decoder turns a {self.grid}x{self.grid} grid into "
                             f"{self.grid * self.pixel_decoder.upsampling} pixels, not {self.image_size}")
        for part in ("encoder", "decoder"):
            width, heads = getattr(self, f"{part}_width"), getattr(self, f"{part}_heads")
            if heads < 1 or width % heads:
                raise InputError(f"{part}_width {width} must be divisible by {part}_heads {heads}")
        if min(self.num_tokens, self.codebook_size, self.token_size, self.pixel_codes) < 1:
            raise InputError(f"token counts and sizes must be positive, got {self}")

    @property
    def grid(self) -> int:
        """Patches per side."""
        return self.image_size // self.patch_size

    @property
    def prefix_decodes(self) -> bool:
        """Whether fewer than ``num_tokens`` tokens decode (One-D-Piece's tail-token dropping)."""
        return self.family == "one-d-piece"

    @property
    def bits_per_token(self) -> int:
        return bits_for(self.codebook_size)


class TiTokEncoder(nn.Module):
    """Pixels (B, 3, S, S) in [0, 1] -> pre-quantization latents (B, num_tokens, token_size)."""

    def __init__(self, c: TiTokConfig) -> None:
        super().__init__()
        self.config = c
        width = c.encoder_width
        self.patch_embed = nn.Linear(3 * c.patch_size**2, width)  # the authors' stride-p conv, as a GEMM
        self.class_embedding = nn.Parameter(torch.zeros(1, width))
        self.positional_embedding = nn.Parameter(torch.zeros(c.grid**2 + 1, width))
        self.latent_tokens = nn.Parameter(torch.zeros(c.num_tokens, width))
        self.latent_token_positional_embedding = nn.Parameter(torch.zeros(c.num_tokens, width))
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.ModuleList(TransformerBlock(width, c.encoder_heads) for _ in range(c.encoder_depth))
        self.ln_post = nn.LayerNorm(width)
        self.conv_out = nn.Linear(width, c.token_size)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """pixels (B, 3, S, S) in [0, 1] -> latents (B, N, token_size)."""
        batch, width, n = pixels.shape[0], self.config.encoder_width, self.config.num_tokens
        p, g = self.config.patch_size, self.config.grid
        patches = pixels.reshape(batch, 3, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(batch, g * g, 3 * p * p)
        patches = self.patch_embed(patches)
        x = torch.cat([self.class_embedding.expand(batch, 1, width), patches], dim=1) + self.positional_embedding
        latents = (self.latent_tokens + self.latent_token_positional_embedding).expand(batch, n, width)
        x = self.ln_pre(torch.cat([x, latents], dim=1))
        for block in self.blocks:
            x = block(x)
        latents = self.ln_post(x[:, x.shape[1] - n:])
        # the released ("legacy") models read the (N, width) states as (width, N) before the 1x1 conv:
        # a fixed reinterpretation of memory, kept because their weights were trained with it
        return self.conv_out(latents.reshape(batch, width, n).transpose(1, 2))


class TiTokDecoder(nn.Module):
    """Quantized tokens (B, K, token_size), K <= num_tokens -> MaskGIT code logits (B, grid**2, pixel_codes)."""

    def __init__(self, c: TiTokConfig) -> None:
        super().__init__()
        self.config = c
        width = c.decoder_width
        self.decoder_embed = nn.Linear(c.token_size, width)
        self.class_embedding = nn.Parameter(torch.zeros(1, width))
        self.positional_embedding = nn.Parameter(torch.zeros(c.grid**2 + 1, width))
        self.mask_token = nn.Parameter(torch.zeros(1, 1, width))
        self.latent_token_positional_embedding = nn.Parameter(torch.zeros(c.num_tokens, width))
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.ModuleList(TransformerBlock(width, c.decoder_heads) for _ in range(c.decoder_depth))
        self.ln_post = nn.LayerNorm(width)
        self.ffn = nn.Sequential(nn.Linear(width, 2 * width), nn.Tanh(), nn.Linear(2 * width, c.pixel_codes))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, K, token_size) -> logits (B, grid**2, pixel_codes)."""
        batch, length, _ = tokens.shape
        width, cells = self.config.decoder_width, self.config.grid**2
        latents = self.decoder_embed(tokens) + self.latent_token_positional_embedding[:length]
        queries = torch.cat([self.class_embedding.expand(batch, 1, width),
                             self.mask_token.expand(batch, cells, width)], dim=1) + self.positional_embedding
        x = self.ln_pre(torch.cat([queries, latents], dim=1))
        for block in self.blocks:
            x = block(x)
        return self.ffn(self.ln_post(x[:, 1:1 + cells]))


class TiTokModel(nn.Module):
    """images (B, 3, S, S) in [-1, 1] <-> indices (B, K) in [0, codebook_size), K = num_tokens (or, for
    One-D-Piece, any 1 <= K <= num_tokens)."""

    def __init__(self, config: TiTokConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = TiTokEncoder(config)
        self.quantizer = VQ(VQConfig(codebook_size=config.codebook_size, dim=config.token_size, metric="cos",
                                     kmeans_init=False, decay=0.0, dead_code_threshold=0.0))
        self.decoder = TiTokDecoder(config)
        self.pixel_codebook = nn.Parameter(torch.zeros(config.pixel_codes, config.pixel_decoder.z_channels))
        self.pixel_decoder = VQGANDecoder(config.pixel_decoder)

    def latents(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, S, S) in [-1, 1] -> pre-quantization latents (B, N, token_size)."""
        return self.encoder((images + 1) / 2)

    def pixels(self, quantized: torch.Tensor) -> torch.Tensor:
        """Quantized tokens (B, K, token_size) -> pixels (B, 3, S, S) in the authors' [0, 1] scale (unclamped)."""
        weights = self.decoder(quantized).softmax(dim=-1)  # (B, grid**2, pixel_codes)
        grid = self.config.grid
        z = (weights @ self.pixel_codebook).transpose(1, 2).reshape(weights.shape[0], -1, grid, grid)
        # one picture at a time: batched convolutions round differently (~1e-5), and a decoded picture must
        # not depend on the batch it came in; at 256 px a picture fills the convolutions alone
        return torch.cat([self.pixel_decoder(z[i:i + 1]) for i in range(z.shape[0])])

    @torch.inference_mode()
    @reuse_freed_memory()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, S, S) in [-1, 1] -> all N token indices (B, N)."""
        return self.quantizer.encode(self.latents(images))

    @torch.inference_mode()
    @reuse_freed_memory()
    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """indices (B, K) -> images (B, 3, S, S) clamped to [-1, 1]."""
        return self.pixels(self.quantizer.decode(indices)).clamp(0, 1) * 2 - 1


# -- the authors' layout -----------------------------------------------------------------------------
_BLOCK_PARTS = {"ln_1": "attention_norm", "attn.in_proj_weight": "attention.qkv.weight",
                "attn.in_proj_bias": "attention.qkv.bias", "attn.out_proj": "attention.out", "ln_2": "mlp_norm",
                "mlp.c_fc": "mlp.0", "mlp.c_proj": "mlp.2"}
_BLOCK = re.compile(r"^(encoder|decoder)\.transformer\.(\d+)\.(ln_1|ln_2|attn\.in_proj_weight|attn\.in_proj_bias|"
                    r"attn\.out_proj|mlp\.c_fc|mlp\.c_proj)(.*)$")
_POINTWISE = ("encoder.conv_out.weight", "decoder.ffn.0.weight", "decoder.ffn.2.weight")


def _prefix(keys: set[str]) -> str | None:
    """The prefix the tensors sit under ("" or e.g. "module."), found from ``latent_tokens``."""
    for key in keys:
        if key.endswith("latent_tokens") and key[:-len("latent_tokens")] + "encoder.patch_embed.weight" in keys:
            return key[:-len("latent_tokens")]
    return None


def looks_like(keys: set[str], hf_config: dict[str, Any] | None = None) -> bool:
    """True when ``keys`` hold a TiTok-family tokenizer (latent tokens, a ViT encoder and decoder)."""
    if hf_config is not None and hf_config.get("model_type") is not None:
        return False
    prefix = _prefix(keys)
    return prefix is not None and prefix + "decoder.mask_token" in keys


def canonical_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The authors' state dict -> this port's keys: 1x1 convs as linear weights, the VQ codebook
    l2-normalised once (the authors normalise it at every lookup)."""
    prefix = _prefix(set(state)) or ""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not key.startswith(prefix):
            continue
        key = key[len(prefix):]
        value = value.float() if value.is_floating_point() else value
        match = _BLOCK.match(key)
        if match:
            part, index, name, rest = match.groups()
            key = f"{part}.blocks.{index}.{_BLOCK_PARTS[name]}{rest}"
        elif key == "latent_tokens":
            key = "encoder.latent_tokens"
        elif key == "quantize.embedding.weight":
            key, value = "quantizer.codebook", F.normalize(value, dim=-1)
        elif key == "pixel_quantize.embedding.weight":
            key = "pixel_codebook"
        elif key in _POINTWISE and value.ndim == 4 and value.shape[2:] == (1, 1):
            value = value[:, :, 0, 0]
        elif key == "encoder.patch_embed.weight" and value.ndim == 4:
            value = value.reshape(value.shape[0], -1)  # (width, 3, p, p) -> (width, 3 * p * p)
        out[key] = value
    return out


def _vq_model(hf_config: dict[str, Any] | None) -> dict[str, Any]:
    model = (hf_config or {}).get("model")
    vq = model.get("vq_model") if isinstance(model, dict) else None
    return vq if isinstance(vq, dict) else {}


def _family(hf_config: dict[str, Any] | None, num_tokens: int) -> str:
    """One-D-Piece when its config says so (model.type "one_d_piece", or the relaxed length assertion its
    decoder needs); when nothing says, by the token count of its releases (256)."""
    model = (hf_config or {}).get("model")
    if isinstance(model, dict) and isinstance(model.get("type"), str):
        return "one-d-piece" if model["type"].replace("-", "_") == "one_d_piece" else "titok"
    if _vq_model(hf_config).get("strict_length_assertion") is False or num_tokens == ONE_D_PIECE_TOKENS:
        return "one-d-piece"
    return "titok"


def _heads(width: int, size: Any, part: str, source: str) -> int:
    """Attention heads of a ViT: its named size when the width is that size's, else 64-wide heads."""
    if isinstance(size, str) and size in MODEL_SIZES and MODEL_SIZES[size][0] == width:
        return MODEL_SIZES[size][2]
    if width % HEAD_WIDTH:
        raise InputError(f"{source}: the {part} width {width} is not a multiple of {HEAD_WIDTH}, so its number "
                         f"of attention heads cannot be told from the tensors")
    return width // HEAD_WIDTH


def infer_config(state: dict[str, torch.Tensor], source: str, hf_config: dict[str, Any] | None = None) -> TiTokConfig:
    """The config a canonical state dict's shapes (and the snapshot's config.json, if any) describe."""
    if "decoder.conv_out.weight" in state or "decoder.ffn.1.weight" in state:
        raise UnsupportedFormatError(f"{source}: a single-stage TiTok (\"is_legacy: false\", the VQ-8k / VAE "
                                     f"tokenizers) is not supported yet; tokkit loads the two-stage TiTok S-128, "
                                     f"B-64, L-32 and One-D-Piece releases")
    if "pixel_decoder.conv_in.weight" not in state or "pixel_codebook" not in state:
        raise InputError(f"{source} has no MaskGIT-VQGAN pixel decoder (a stage-1 training checkpoint?); "
                         f"tokkit loads the released tokenizers, which include it")
    vq = _vq_model(hf_config)
    if vq.get("use_l2_norm", True) is not True or vq.get("quantize_mode", "vq") != "vq" or vq.get("is_legacy", True) is not True:
        raise UnsupportedFormatError(f"{source}: config.json describes a TiTok variant tokkit does not load "
                                     f"(use_l2_norm {vq.get('use_l2_norm')}, quantize_mode {vq.get('quantize_mode', 'vq')}, "
                                     f"is_legacy {vq.get('is_legacy', True)})")
    try:
        patch = state["encoder.patch_embed.weight"]  # (width, 3 * p * p)
        codebook = state["quantizer.codebook"]
        cells = state["encoder.positional_embedding"].shape[0] - 1
        decoder_width = state["decoder.decoder_embed.weight"].shape[0]
        pixel_logits = state["decoder.ffn.2.weight"].shape[0]
        pixel_in = state["pixel_decoder.conv_in.weight"]
        pixel_out = state["pixel_decoder.conv_out.weight"]
    except KeyError as exc:
        raise InputError(f"{source} lacks the TiTok tensor {exc.args[0]}") from None
    grid = math.isqrt(cells)
    if grid * grid != cells:
        raise InputError(f"{source}: {cells} patch positions do not form a square grid")
    num_tokens = state["encoder.latent_tokens"].shape[0]
    levels = sorted({int(k.split(".")[2]) for k in state if k.startswith("pixel_decoder.up.")})
    widths = [state[f"pixel_decoder.up.{i}.block.0.conv2.weight"].shape[0] for i in levels
              if f"pixel_decoder.up.{i}.block.0.conv2.weight" in state]
    if not levels or len(widths) != len(levels) or levels != list(range(len(levels))):
        raise InputError(f"{source}: the pixel decoder's levels are incomplete")
    hidden = math.gcd(*widths)
    blocks = len({k.split(".")[4] for k in state if k.startswith("pixel_decoder.up.0.block.")})
    depth = {part: len({k.split(".")[2] for k in state if k.startswith(f"{part}.blocks.")}) for part in ("encoder", "decoder")}
    family = _family(hf_config, num_tokens)
    width = patch.shape[0]
    letter = {512: "s", 768: "b", 1024: "l"}.get(width, f"w{width}-")
    pixel = VQGANDecoderConfig(z_channels=pixel_in.shape[1], hidden_channels=hidden,
                               channel_mult=tuple(w // hidden for w in widths), num_res_blocks=blocks,
                               out_channels=pixel_out.shape[0])
    crop = (hf_config or {}).get("dataset", {}).get("preprocessing", {}).get("crop_size") if hf_config else None
    patch_size = math.isqrt(patch.shape[1] // 3)
    if 3 * patch_size**2 != patch.shape[1]:
        raise InputError(f"{source}: the patch embedding takes {patch.shape[1]} values, not 3 x p x p")
    image_size = grid * patch_size
    if crop is not None and crop != image_size:
        raise InputError(f"{source}: config.json says crop_size {crop} but the weights describe {image_size}-pixel images")
    for field, value in (("num_latent_tokens", num_tokens), ("codebook_size", codebook.shape[0]),
                         ("token_size", codebook.shape[1])):
        if field in vq and vq[field] != value:
            raise InputError(f"{source}: config.json says {field} {vq[field]} but the weights hold {value}")
    return TiTokConfig(
        name=f"{family}_{letter}{num_tokens}", family=family, image_size=image_size, patch_size=patch_size,
        num_tokens=num_tokens, codebook_size=codebook.shape[0], token_size=codebook.shape[1],
        encoder_width=width, encoder_depth=depth["encoder"],
        encoder_heads=_heads(width, vq.get("vit_enc_model_size"), "encoder", source),
        decoder_width=decoder_width, decoder_depth=depth["decoder"],
        decoder_heads=_heads(decoder_width, vq.get("vit_dec_model_size"), "decoder", source),
        pixel_codes=pixel_logits, pixel_decoder=pixel)


def from_reference(state: dict[str, torch.Tensor], source: str, *, hf_config: dict[str, Any] | None = None) -> TiTokModel:
    """Build the port from the authors' state dict (``.bin`` pickle or snapshot); mismatched shapes raise
    InputError naming ``source``."""
    canonical = canonical_keys(state)
    model = TiTokModel(infer_config(canonical, source, hf_config))
    load_checked(model, canonical, source)
    return model


def load(checkpoint: Any, device: str) -> Any:
    """A :class:`tokkit.codecs.published.Checkpoint` of TiTok / One-D-Piece -> its tokenizer on ``device``."""
    from tokkit.codecs.image.published.tokenizer import PublishedImageTokenizer

    model = from_reference(checkpoint.state, str(checkpoint.weights), hf_config=checkpoint.hf_config)
    return PublishedImageTokenizer(model, device=device)
