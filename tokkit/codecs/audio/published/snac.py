"""SNAC, the Multi-Scale Neural Audio Codec (Siuzdak et al. 2024): a DAC-style Snake conv codec whose RVQ levels
run at different frame rates. The 24 kHz speech model has three levels of 4096 codes at 12, 23 and 47 Hz
(0.98 kbps); the 32 and 44 kHz models have four and local windowed attention.

Level i average-pools the residual latents by ``vq_strides[i]``, looks its code up as DAC does (factorized,
cosine), and repeats the projected code back to the latent rate. The model is :class:`tokkit.nn.snakenet`'s
encoder/decoder (style "snac") plus the levels of a :class:`tokkit.quant.RVQ` with ``level_codebook_dim``.

Tokens: one column per coarsest frame (``hop * vq_strides[0]`` samples), holding that frame's codes of every
kept level in depth-first order: for strides 4-2-1 the 7 rows are ``c0[t], c1[2t], c2[4t], c2[4t+1], c1[2t+1],
c2[4t+2], c2[4t+3]``. Reading a (7, T) array column by column gives the 7-tokens-per-frame sequence that
speech LMs built on SNAC use; ``codebooks=n`` keeps the first n levels (1, 3 or 7 rows). Shards store the
(rows, T) array like any RVQ codec's, so per-item lengths count coarse frames.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tokkit.codecs.audio.published.dac import factorized_rvq
from tokkit.core.config import JsonConfig
from tokkit.errors import InputError
from tokkit.nn.snakenet import SnakeDecoder, SnakeEncoder, SnakeNetConfig

KIND = "audio.snac"


def depth_first(ratios: tuple[int, ...]) -> list[tuple[int, int]]:
    """(level, offset within the coarse frame) of each row, depth first; ``ratios[i]`` = level i's codes per coarse frame."""
    order: list[tuple[int, int]] = []

    def visit(level: int, offset: int) -> None:
        order.append((level, offset))
        if level + 1 < len(ratios):
            branch = ratios[level + 1] // ratios[level]
            for j in range(branch):
                visit(level + 1, offset * branch + j)

    visit(0, 0)
    return order

#: what this family is, in messages (tokkit.codecs.published)
LABEL = "SNAC"


@dataclasses.dataclass
class SNACConfig(JsonConfig):
    """A SNAC model: its conv stack, one level of ``codebook_size`` codes (width ``codebook_dim``) per entry of
    ``vq_strides`` (latent frames pooled per code, coarsest first)."""

    kind = KIND

    name: str = "snac_24khz"
    sample_rate: int = 24000
    codebook_size: int = 4096
    codebook_dim: int = 8
    vq_strides: tuple[int, ...] = (4, 2, 1)
    net: SnakeNetConfig = dataclasses.field(default_factory=lambda: SnakeNetConfig(
        encoder_dim=48, encoder_rates=(2, 4, 8, 8), decoder_dim=1024, decoder_rates=(8, 8, 4, 2), style="snac",
        depthwise=True, attn_window_size=None, noise=True))

    def __post_init__(self) -> None:
        if isinstance(self.net, dict):
            self.net = SnakeNetConfig.from_dict(self.net)
        self.vq_strides = tuple(int(s) for s in self.vq_strides)
        strides = self.vq_strides
        if not strides or min(strides) < 1 or self.codebook_size < 2 or self.codebook_dim < 1 or self.sample_rate < 1:
            raise InputError(f"SNAC config needs vq_strides >= 1, codebook_size >= 2, codebook_dim >= 1, got {self}")
        if any(a % b for a, b in zip(strides, strides[1:])):
            raise InputError(f"SNAC vq_strides {list(strides)} must each divide the one before (e.g. 4, 2, 1)")
        if self.net.style != "snac":
            raise InputError("a SNAC config needs a SnakeNet of style 'snac'")

    @property
    def n_q(self) -> int:
        return len(self.vq_strides)

    @property
    def hop(self) -> int:
        """Audio samples per token column (one coarsest frame)."""
        return self.net.hop * self.vq_strides[0]

    @property
    def frame_rate(self) -> float:
        """Token columns per second."""
        return self.sample_rate / self.hop

    @property
    def ratios(self) -> tuple[int, ...]:
        """Codes per column of each level (1, 2, 4 for strides 4, 2, 1)."""
        return tuple(self.vq_strides[0] // s for s in self.vq_strides)

    def rows(self, n_q: int) -> int:
        """Rows of a token array holding the first ``n_q`` levels."""
        return sum(self.ratios[:n_q])

    def kbps(self, n_q: int) -> float:
        """Bitrate of the first ``n_q`` levels."""
        return sum(self.ratios[:n_q]) * math.log2(self.codebook_size) * self.frame_rate / 1000


class SNACModel(nn.Module):
    """``encode`` audio (B, N) -> codes (B, rows, T) with one column per coarse frame (see the module docstring);
    ``decode`` codes -> audio (B, T * hop)."""

    def __init__(self, config: SNACConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = SnakeEncoder(config.net)
        self.decoder = SnakeDecoder(config.net)
        self.quantizer = factorized_rvq(config.n_q, config.codebook_size, config.net.latent_dim, config.codebook_dim)

    # -- the tokenizer's grid --------------------------------------------------------------------------
    @property
    def frame_samples(self) -> int:
        return self.config.hop

    @property
    def align_frames(self) -> int:
        """Columns a window must start on: the attention windows (in latent frames) fall on whole columns."""
        window, first = self.config.net.attn_window_size or 1, self.config.vq_strides[0]
        return math.lcm(window, first) // first

    def encode_context(self) -> int:
        return self.encoder.context()

    def decode_context(self) -> int:
        """Token columns of context each side for the decoder."""
        return -(-self.decoder.context() // self.config.vq_strides[0])

    # -- the network ----------------------------------------------------------------------------------
    def latents(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio (B, N) -> latents (B, latent_dim, T), zero-padded at the end to whole windows as the authors do."""
        grid = self.frame_samples * self.align_frames
        return self.encoder(F.pad(audio, (0, -audio.shape[-1] % grid))[:, None])

    def quantize(self, latents: torch.Tensor, n_q: int) -> torch.Tensor:
        """Latents (B, D, T) -> codes (B, rows(n_q), T / vq_strides[0]), depth-first per column."""
        residual, levels = latents, []
        for vq, stride in zip(self.quantizer.levels[:n_q], self.config.vq_strides):
            pooled = F.avg_pool1d(residual, stride, stride) if stride > 1 else residual
            indices = vq.encode(pooled.transpose(1, 2))  # (B, T / stride)
            residual = residual - self._expand(vq, indices, stride)
            levels.append(indices)
        return self._interleave(levels)

    def dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, rows, T) -> quantized latents (B, D, T * vq_strides[0])."""
        levels = self._split(codes)
        total = 0
        for vq, stride, indices in zip(self.quantizer.levels, self.config.vq_strides, levels):
            total = total + self._expand(vq, indices, stride)
        return total

    def encode(self, audio: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Audio (B, N) -> codes (B, rows, T)."""
        return self.quantize(self.latents(audio), n_q or self.config.n_q)

    def decode(self, codes: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Codes (B, rows, T) -> audio (B, T * hop); ``generator`` draws the decoder's injected noise."""
        return self.decoder(self.dequantize(codes), generator)[:, 0]

    def encode_window(self, audio: torch.Tensor, n_q: int) -> torch.Tensor:
        """Audio (B, 1, t), t a multiple of the grid -> codes (B, rows, t / hop)."""
        return self.quantize(self.encoder(audio), n_q)

    def decode_window(self, codes: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Codes (B, rows, T) -> audio (B, 1, T * hop)."""
        return self.decoder(self.dequantize(codes), generator)

    # -- layout -----------------------------------------------------------------------------------------
    @staticmethod
    def _expand(vq: nn.Module, indices: torch.Tensor, stride: int) -> torch.Tensor:
        """Indices (B, t) -> their projected codes at the latent rate (B, D, t * stride)."""
        code = vq.project_out(vq.codebook[indices]).transpose(1, 2)
        return code.repeat_interleave(stride, dim=-1) if stride > 1 else code

    def _interleave(self, levels: list[torch.Tensor]) -> torch.Tensor:
        ratios = self.config.ratios[:len(levels)]
        columns = levels[0].shape[-1]
        per = [level.reshape(level.shape[0], columns, ratio) for level, ratio in zip(levels, ratios)]
        return torch.stack([per[level][..., offset] for level, offset in depth_first(ratios)], dim=1)

    def _split(self, codes: torch.Tensor) -> list[torch.Tensor]:
        n_q = self.levels_in(codes.shape[1])
        ratios = self.config.ratios[:n_q]
        order = depth_first(ratios)
        levels = []
        for level, ratio in enumerate(ratios):
            rows = [row for row, (lv, _) in sorted(enumerate(order), key=lambda item: item[1][1]) if lv == level]
            levels.append(codes[:, rows].transpose(1, 2).reshape(codes.shape[0], -1))
        return levels

    def levels_in(self, rows: int) -> int:
        """How many levels a token array of ``rows`` rows holds (InputError if no prefix has that many)."""
        for n_q in range(1, self.config.n_q + 1):
            if self.config.rows(n_q) == rows:
                return n_q
        allowed = ", ".join(str(self.config.rows(n)) for n in range(1, self.config.n_q + 1))
        raise InputError(f"these tokens have {rows} rows; this SNAC checkpoint's tokens have {allowed} rows "
                         f"(1..{self.config.n_q} levels)")


# -- the authors' layout (HF snapshot: config.json + pytorch_model.bin) ----------------------------------
def looks_like(keys: set[str], hf_config: dict[str, Any] | None) -> bool:
    """True when ``keys`` hold a SNAC model: DAC's layout plus noise blocks, or a config.json with vq_strides."""
    from tokkit.codecs.audio.published.dac import find_prefix

    prefix = find_prefix(keys)
    return prefix is not None and (bool(hf_config and "vq_strides" in hf_config)
                                   or any(".linear." in k for k in keys if k.startswith(prefix + "decoder.")))


def config_from_hf(hf: dict[str, Any] | None, source: str) -> SNACConfig:
    """The authors' config.json (SNAC's constructor arguments) -> SNACConfig."""
    if not hf or "vq_strides" not in hf:
        raise InputError(f"{source}: a SNAC checkpoint needs the config.json published beside it (vq_strides, "
                         f"sampling_rate); put both files in one folder and load the folder")
    known = {"sampling_rate", "encoder_dim", "encoder_rates", "latent_dim", "decoder_dim", "decoder_rates",
             "attn_window_size", "codebook_size", "codebook_dim", "vq_strides", "noise", "depthwise"}
    unknown = sorted(set(hf) - known)
    if unknown:
        raise InputError(f"{source}: config.json has fields this SNAC port does not know: {unknown}")
    try:
        net = SnakeNetConfig(encoder_dim=int(hf.get("encoder_dim", 64)), encoder_rates=tuple(hf.get("encoder_rates", (3, 3, 7, 7))),
                             latent_dim=hf.get("latent_dim"), decoder_dim=int(hf.get("decoder_dim", 1536)),
                             decoder_rates=tuple(hf.get("decoder_rates", (7, 7, 3, 3))), style="snac",
                             depthwise=bool(hf.get("depthwise", True)), attn_window_size=hf.get("attn_window_size", 32),
                             noise=bool(hf.get("noise", True)))
        rate = int(hf.get("sampling_rate", 44100))
        return SNACConfig(name=f"snac_{round(rate / 1000)}khz", sample_rate=rate,
                          codebook_size=int(hf.get("codebook_size", 4096)), codebook_dim=int(hf.get("codebook_dim", 8)),
                          vq_strides=tuple(hf["vq_strides"]), net=net)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{source}: config.json is not a valid SNAC config ({exc})") from None


def from_reference(state: dict[str, torch.Tensor], source: str, *, hf_config: dict[str, Any] | None) -> SNACModel:
    """Build the port from the authors' tensors and config.json; mismatched shapes raise InputError naming ``source``."""
    from tokkit.codecs.audio.published.dac import canonical_keys, find_prefix
    from tokkit.nn.weights import load_checked

    model = SNACModel(config_from_hf(hf_config, source))
    load_checked(model, canonical_keys(state, find_prefix(set(state)) or ""), source)
    return model


def load(checkpoint: Any, device: str) -> Any:
    """A :class:`tokkit.codecs.published.Checkpoint` of SNAC -> its tokenizer on ``device``."""
    from tokkit.codecs.audio.published.windowed import SNACTokenizer

    return SNACTokenizer(from_reference(checkpoint.state, str(checkpoint.weights), hf_config=checkpoint.hf_config),
                         device=device)


def load_saved(directory: str, config: dict, *, device: str = "auto"):
    """Registry loader for tokkit folders of a converted SNAC (config.json "kind": "audio.snac")."""
    from tokkit.codecs.audio.published import load_port
    from tokkit.codecs.audio.published.windowed import SNACTokenizer

    return load_port(directory, SNACModel(SNACConfig.from_dict(config)), SNACTokenizer, device=device)
