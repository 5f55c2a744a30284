"""WavTokenizer (Ji et al. 2024): SEANet encoder -> one 4096-code VQ (40 or 75 tokens/s) -> Vocos-style decoder.

The encoder is EnCodec's SEANet, non-causal (:class:`tokkit.nn.seanet.SEANetEncoder`); the quantizer is
one :class:`tokkit.quant.VQ` holding the authors' codebook; the decoder is a ConvNeXt backbone
(:class:`tokkit.nn.convnext.ConvNeXtStack` with AdaLayerNorm, condition 0 as the authors' inference uses)
whose input conv is followed by the attention "pos_net" (:class:`tokkit.nn.posnet.PosNet`), then
Vocos's iSTFT head (:class:`tokkit.nn.stft.ISTFTHead`).

The authors publish PyTorch Lightning checkpoints (``WavTokenizer_small_600_24k_4096.ckpt`` = 40 tokens/s,
``..._320_...`` = 75 tokens/s; HF ``novateur/WavTokenizer*``) whose ``state_dict`` holds the whole training
module (discriminators included), and a yaml config in their repository. Everything this port needs is
in the tensors: the encoder strides (hop 600 or 320), the codebook, the backbone widths and the head's
FFT size; a yaml next to the checkpoint is checked against them.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import torch
from torch import nn

from tokkit.core.config import JsonConfig
from tokkit.errors import InputError
from tokkit.nn.convnext import ConvNeXtStack
from tokkit.nn.posnet import PosNet
from tokkit.nn.seanet import SEANetConfig, SEANetEncoder
from tokkit.nn.stft import ISTFTHead
from tokkit.quant.vq import VQ, VQConfig

KIND = "audio.wavtokenizer"
#: what this family is, in messages (tokkit.codecs.published)
LABEL = "WavTokenizer"
#: where the model sits in a Lightning checkpoint (flattened by read_state_dict) or a bare state dict
PREFIXES = ("state_dict.", "")
_CODEBOOK = "feature_extractor.encodec.quantizer.vq.layers.{}._codebook.embed"


def _wavtokenizer_seanet() -> SEANetConfig:
    return SEANetConfig(dimension=512, n_filters=32, ratios=(6, 5, 5, 4), causal=False)


@dataclasses.dataclass
class WavTokenizerConfig(JsonConfig):
    """A WavTokenizer: its (non-causal) SEANet encoder, ``codebook_size`` codes, the ConvNeXt decoder's
    widths (``conditions`` AdaLayerNorm rows, row ``condition`` used) and the iSTFT head's ``head_n_fft``;
    the head's hop is the encoder's (one token per hop samples)."""

    kind = KIND

    name: str = "wavtokenizer"
    sample_rate: int = 24000
    codebook_size: int = 4096
    seanet: SEANetConfig = dataclasses.field(default_factory=_wavtokenizer_seanet)
    dim: int = 768
    intermediate_dim: int = 2304
    num_layers: int = 12
    conditions: int = 4
    condition: int = 0
    groups: int = 32
    head_n_fft: int = 2400

    def __post_init__(self) -> None:
        if isinstance(self.seanet, dict):
            self.seanet = SEANetConfig.from_dict(self.seanet)
        if self.codebook_size < 2 or self.sample_rate < 1 or self.num_layers < 1 or self.conditions < 1:
            raise InputError(f"WavTokenizer config needs codebook_size >= 2, sample_rate, num_layers and "
                             f"conditions >= 1, got {self}")
        if not 0 <= self.condition < self.conditions:
            raise InputError(f"WavTokenizer condition must be in [0, {self.conditions}), got {self.condition}")
        if self.dim % self.groups:
            raise InputError(f"WavTokenizer dim {self.dim} is not divisible by its {self.groups} GroupNorm groups")
        if self.head_n_fft < 2 * self.hop or (self.head_n_fft - self.hop) % 2:
            raise InputError(f"WavTokenizer head n_fft {self.head_n_fft} does not fit its hop {self.hop}")
        if self.seanet.channels != 1:
            raise InputError("WavTokenizer models are mono")

    @property
    def hop(self) -> int:
        return self.seanet.hop

    @property
    def n_q(self) -> int:
        """One codebook (the shape every published RVQ codec's tokens share: (1, T))."""
        return 1

    @property
    def frame_rate(self) -> int:
        return math.ceil(self.sample_rate / self.hop)

    @property
    def kbps_per_codebook(self) -> float:
        return math.log2(self.codebook_size) * self.frame_rate / 1000


class WavTokenizerModel(nn.Module):
    """``encode`` audio (B, N) -> codes (B, 1, ceil(N / hop)); ``decode`` codes (B, 1, T) -> audio (B, T * hop)."""

    def __init__(self, config: WavTokenizerConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.encoder = SEANetEncoder(c.seanet)
        self.quantizer = VQ(VQConfig(codebook_size=c.codebook_size, dim=c.seanet.dimension, kmeans_init=False,
                                     decay=0.0, dead_code_threshold=0.0))
        self.backbone = ConvNeXtStack(c.seanet.dimension, c.dim, c.num_layers, c.intermediate_dim,
                                      conditions=c.conditions, prenet=PosNet(c.dim, c.groups))
        self.head = ISTFTHead(c.dim, c.head_n_fft, c.hop)

    def latents(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio (B, N) -> pre-quantization latents (B, dimension, ceil(N / hop))."""
        return self.encoder(audio[:, None])

    def quantize(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents (B, dimension, T) -> codes (B, 1, T)."""
        return self.quantizer.encode(latents.transpose(1, 2))[:, None]

    def dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, 1, T) -> the codebook rows (B, dimension, T): the decoder's features."""
        return self.quantizer.decode(codes[:, 0]).transpose(1, 2)

    def synthesize(self, features: torch.Tensor) -> torch.Tensor:
        """Features (B, dimension, T) -> audio (B, T * hop) through the backbone and the iSTFT head."""
        condition = torch.full((features.shape[0],), self.config.condition, dtype=torch.long, device=features.device)
        return self.head(self.backbone(features, condition=condition))

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio (B, N) -> codes (B, 1, ceil(N / hop))."""
        return self.quantize(self.latents(audio))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, 1, T) -> audio (B, T * hop)."""
        return self.synthesize(self.dequantize(codes))


# -- the authors' layout ----------------------------------------------------------------------------
def find_prefix(keys: set[str]) -> str | None:
    """The prefix under which ``keys`` hold a WavTokenizer (a Lightning checkpoint's "state_dict."), or None."""
    for prefix in PREFIXES:
        if prefix + _CODEBOOK.format(0) in keys and prefix + "backbone.pos_net.2.q.weight" in keys \
                and prefix + "head.out.weight" in keys:
            return prefix
    return None


def looks_like(keys: set[str], hf_config: dict[str, Any] | None = None) -> bool:
    """True when ``keys`` hold a WavTokenizer (Lightning checkpoint or bare state dict)."""
    return find_prefix(keys) is not None


def canonical_keys(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The authors' tensors -> this port's names: encoder (weight norm folded), codebook, backbone, head.
    The unused EnCodec decoder, discriminators, loss buffers and EMA statistics are left out."""
    from tokkit.codecs.audio.published import encodec
    from tokkit.codecs.audio.published.vocos import backbone_key

    inner = prefix + "feature_extractor.encodec."
    levels = sorted({int(m.group(1)) for k in state for m in [re.match(re.escape(inner) + r"quantizer\.vq\.layers\.(\d+)\.", k)] if m})
    if levels != [0]:
        raise InputError(f"this WavTokenizer checkpoint has {len(levels)} quantizers; the published models have one")
    kept = {k: v for k, v in state.items() if k.startswith((inner + "encoder.", inner + "quantizer."))}
    out = {}
    for key, value in encodec.canonical_keys(kept, inner).items():
        out["quantizer.codebook" if key == "quantizer.levels.0.codebook" else key] = value
    qkv: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if not key.startswith((prefix + "backbone.", prefix + "head.")) or key.startswith(prefix + "head.istft."):
            continue
        key = key[len(prefix):]
        value = value.float()
        match = re.match(r"backbone\.pos_net\.2\.(q|k|v|proj_out|norm)\.(weight|bias)$", key)
        if match:
            part, kind = match.groups()
            if part in "qkv":
                qkv.setdefault(kind, {})[part] = value
            elif part == "proj_out":
                out[f"backbone.prenet.2.attention.out.{kind}"] = value[..., 0] if kind == "weight" else value
            else:
                out[f"backbone.prenet.2.norm.{kind}"] = value
            continue
        key = key.replace("backbone.pos_net.", "backbone.prenet.")
        out[backbone_key(key)] = value
    for kind, parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            raise InputError(f"the checkpoint's attention block lacks one of q, k, v ({kind})")
        stacked = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
        out[f"backbone.prenet.2.attention.qkv.{kind}"] = stacked[..., 0] if kind == "weight" else stacked
    return out


def infer_config(state: dict[str, torch.Tensor], **overrides: Any) -> WavTokenizerConfig:
    """The config a canonical state dict's shapes describe (encoder strides, widths, head FFT size)."""
    from tokkit.codecs.audio.published.encodec import _layer_index

    try:
        first = state["encoder.layers.0.weight"]
        codebook = state["quantizer.codebook"]
        stem = state["backbone.stem.weight"]
        expand = state["backbone.blocks.0.expand.weight"]
        conditions = state["backbone.stem_norm.scale.weight"].shape[0]
        head = state["head.out.weight"]
    except KeyError as exc:
        raise InputError(f"the checkpoint lacks WavTokenizer's {exc.args[0]}") from None
    ratios = []
    for key, value in sorted(state.items(), key=lambda kv: _layer_index(kv[0])):
        if key.startswith("encoder.layers.") and key.count(".") == 3 and key.endswith(".weight") \
                and _layer_index(key) > 0 and value.shape[-1] % 2 == 0 and value.shape[0] == 2 * value.shape[1]:
            ratios.append(value.shape[-1] // 2)
    lstm = len({k for k in state if k.startswith("encoder.") and ".lstm.weight_ih_l" in k})
    seanet = SEANetConfig(channels=first.shape[1], n_filters=first.shape[0], dimension=codebook.shape[1],
                          ratios=tuple(reversed(ratios)), lstm=lstm, causal=False)
    layers = len({k.split(".")[2] for k in state if k.startswith("backbone.blocks.")})
    fields = dict(codebook_size=codebook.shape[0], seanet=seanet, dim=stem.shape[0], intermediate_dim=expand.shape[0],
                  num_layers=layers, conditions=conditions, head_n_fft=head.shape[0] - 2)
    fields["name"] = f"wavtokenizer_{math.ceil(overrides.get('sample_rate', 24000) / seanet.hop)}tps"
    fields.update(overrides)
    return WavTokenizerConfig(**fields)


def check_yaml(hparams: Any, config: WavTokenizerConfig, source: str) -> dict[str, Any]:
    """The authors' training yaml (model.init_args: feature_extractor / backbone / head) checked against the
    config the tensors describe; returns overrides it adds (the sample rate). One line per mismatch."""
    try:
        args = hparams["model"]["init_args"]
        fa = args["feature_extractor"]["init_args"]
        ba = args["backbone"]["init_args"]
        ha = args["head"]["init_args"]
    except (KeyError, TypeError):
        raise InputError(f"{source} is not a WavTokenizer config (model.init_args with feature_extractor, "
                         f"backbone and head)") from None
    if not str(args["backbone"].get("class_path", "")).endswith("VocosBackbone") \
            or not str(args["head"].get("class_path", "")).endswith("ISTFTHead") or ha.get("padding", "same") != "same":
        raise InputError(f"{source}: only the VocosBackbone + ISTFTHead ('same' padding) WavTokenizer is supported")
    claims = {
        "encoder strides (dowmsamples)": (tuple(fa.get("dowmsamples", ())), config.seanet.ratios),
        "vq_bins": (fa.get("vq_bins"), config.codebook_size),
        "num_quantizers": (fa.get("num_quantizers", 1), 1),
        "backbone input_channels": (ba.get("input_channels"), config.seanet.dimension),
        "backbone dim": (ba.get("dim"), config.dim),
        "backbone intermediate_dim": (ba.get("intermediate_dim"), config.intermediate_dim),
        "backbone num_layers": (ba.get("num_layers"), config.num_layers),
        "adanorm_num_embeddings": (ba.get("adanorm_num_embeddings"), config.conditions),
        "head n_fft": (ha.get("n_fft"), config.head_n_fft),
        "head hop_length": (ha.get("hop_length"), config.hop),
    }
    for what, (said, found) in claims.items():
        if said != found:
            raise InputError(f"{source} says {what} {said}, but the checkpoint's tensors hold {found}: "
                             f"the config and the weights are of different models")
    rate = args.get("sample_rate", 24000)
    if not isinstance(rate, int) or rate < 1:
        raise InputError(f"{source}: sample_rate must be a positive integer, got {rate!r}")
    return {"sample_rate": rate}


def from_reference(state: dict[str, torch.Tensor], source: str, *, hparams: Any = None,
                   yaml_source: str = "") -> WavTokenizerModel:
    """Build the port from the authors' checkpoint tensors (and their yaml, checked); InputError naming ``source``."""
    from tokkit.nn.weights import load_checked

    prefix = find_prefix(set(state))
    if prefix is None:
        raise InputError(f"{source} is not a WavTokenizer checkpoint")
    canonical = canonical_keys(state, prefix)
    config = infer_config(canonical)
    if hparams is not None:
        config = infer_config(canonical, **check_yaml(hparams, config, yaml_source or source))
    model = WavTokenizerModel(config)
    load_checked(model, canonical, source)
    return model


def load(checkpoint: Any, device: str) -> Any:
    """A :class:`tokkit.codecs.published.Checkpoint` of WavTokenizer (a ``.ckpt`` alone) -> its tokenizer."""
    from tokkit.codecs.audio.published.tokenizer import WavTokenizerTokenizer

    return WavTokenizerTokenizer(from_reference(checkpoint.state, str(checkpoint.weights)), device=device)

