"""Mimi (Kyutai, Défossez et al. 2024), 24 kHz speech at 12.5 frames/s: the codec under Moshi.

Causal SEANet encoder (hop 960) -> causal transformer (RoPE, layer scale, 250-frame window) -> strided conv
to 12.5 Hz -> split RVQ (one semantic codebook and up to 31 acoustic ones, 2048 codes each, every group with
its own bias-free projections to 256 dims) -> depthwise transposed conv back to 25 Hz -> causal transformer
-> SEANet decoder. Everything is causal, so :meth:`MimiModel.stream_encoder` / ``stream_decoder`` run long
audio in order with bounded memory and give the codes of one whole pass.

Built from :mod:`tokkit.nn.seanet`, :mod:`tokkit.nn.transformer` and :class:`tokkit.quant.split.SplitRVQ`.
:func:`from_reference` reads both published layouts: the authors' (the ``tokenizer-*.safetensors`` file shipped
in Kyutai's moshi repositories, the ``moshi`` package's state dict) and HF transformers' (``kyutai/mimi``:
config.json + model.safetensors, flat or transformers-5 nested names; its query/key rows, permuted for
rotate-half RoPE, are permuted back). Each EMA codebook is derived as both packages do,
``embedding_sum / cluster_usage.clamp(min=1e-5)``. Heads, attention window, RoPE period and sample rate are
not in the tensors: they come from a snapshot's config.json, else take the published model's values.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import torch

from tokkit.codecs.audio.published.rvqcodec import RVQCodec
from tokkit.core.config import JsonConfig
from tokkit.errors import InputError
from tokkit.nn.seanet import PaddedConv1d, PaddedConvTranspose1d, SEANetConfig, SEANetDecoder, SEANetEncoder
from tokkit.nn.transformer import Transformer
from tokkit.nn.weights import load_checked
from tokkit.quant.rvq import RVQConfig
from tokkit.quant.split import SplitRVQ

KIND = "audio.mimi"
#: what this family is, in messages (tokkit.codecs.published)
LABEL = "Mimi"
#: the EMA codebooks' epsilon (moshi's EuclideanCodebook)
CODEBOOK_EPSILON = 1e-5


def _mimi_seanet() -> SEANetConfig:
    return SEANetConfig(dimension=512, n_filters=64, n_residual_layers=1, ratios=(8, 6, 5, 4), kernel_size=7,
                        last_kernel_size=3, residual_kernel_size=3, dilation_base=2, causal=True, pad_mode="constant",
                        true_skip=True, compress=2, lstm=0)


@dataclasses.dataclass
class MimiConfig(JsonConfig):
    """A Mimi model (defaults: the published one). ``n_q`` codebooks in all, the first ``n_q_semantic`` of
    them the semantic group; ``default_codebooks`` are kept when an encode names none (Moshi uses 8)."""

    kind = KIND

    name: str = "mimi"
    sample_rate: int = 24000
    frame_rate: float = 12.5
    n_q: int = 32
    n_q_semantic: int = 1
    codebook_size: int = 2048
    codebook_dim: int = 256
    default_codebooks: int = 8
    heads: int = 8
    layers: int = 8
    dim_feedforward: int = 2048
    context: int = 250
    layer_scale: bool = True
    max_period: float = 10000.0
    seanet: SEANetConfig = dataclasses.field(default_factory=_mimi_seanet)

    def __post_init__(self) -> None:
        if isinstance(self.seanet, dict):
            self.seanet = SEANetConfig.from_dict(self.seanet)
        s = self.seanet
        if not 1 <= self.n_q_semantic < self.n_q or self.codebook_size < 2 or self.sample_rate < 1:
            raise InputError(f"Mimi config needs 1 <= n_q_semantic < n_q, codebook_size >= 2, sample_rate >= 1, "
                             f"got {self}")
        if s.channels != 1 or not s.causal or s.lstm:
            raise InputError("Mimi's SEANet is mono, causal and has no LSTM")
        if s.dimension % self.heads or self.context < 1 or self.layers < 0:
            raise InputError(f"Mimi's transformer needs heads dividing {s.dimension} and context >= 1, got {self}")
        stride = self.sample_rate / s.hop / self.frame_rate
        if stride != int(stride) or stride < 1:
            raise InputError(f"Mimi's frame rate {self.frame_rate} must divide the encoder rate "
                             f"{self.sample_rate / s.hop} by an integer")
        self.default_codebooks = max(1, min(self.default_codebooks, self.n_q))

    @property
    def stride(self) -> int:
        """Encoder frames per token frame (2: 25 Hz -> 12.5 Hz)."""
        return round(self.sample_rate / self.seanet.hop / self.frame_rate)

    @property
    def hop(self) -> int:
        return self.seanet.hop * self.stride

    @property
    def kbps_per_codebook(self) -> float:
        return math.log2(self.codebook_size) * self.frame_rate / 1000


class MimiModel(RVQCodec):
    """``encode`` audio (B, N) -> codes (B, q, ceil(N / hop)); ``decode`` codes (B, q, T) -> audio (B, T * hop)."""

    def __init__(self, config: MimiConfig) -> None:
        super().__init__()
        self.config = c = config
        dim = c.seanet.dimension
        transformer = dict(dim=dim, depth=c.layers, heads=c.heads, mlp_ratio=c.dim_feedforward / dim, causal=True,
                           final_norm=False, bias=False, layer_scale=0.01 if c.layer_scale else None,
                           rope_max_period=c.max_period, context=c.context)
        self.encoder = SEANetEncoder(c.seanet)
        self.encoder_transformer = Transformer(**transformer)
        self.downsample = PaddedConv1d(dim, dim, 2 * c.stride, c.stride, causal=True, pad_mode="replicate", bias=False)
        group = dict(codebook_size=c.codebook_size, dim=dim, codebook_dim=c.codebook_dim, kmeans_init=False,
                     decay=0.0, dead_code_threshold=0.0, projection_bias=False)
        self.quantizer = SplitRVQ(RVQConfig(depth=c.n_q_semantic, **group),
                                  RVQConfig(depth=c.n_q - c.n_q_semantic, **group))
        self.upsample = PaddedConvTranspose1d(dim, dim, 2 * c.stride, c.stride, causal=True, groups=dim, bias=False)
        self.decoder_transformer = Transformer(**transformer)
        self.decoder = SEANetDecoder(c.seanet)
        if int(dim * (c.dim_feedforward / dim)) != c.dim_feedforward:
            raise InputError(f"Mimi's feed-forward width {c.dim_feedforward} is not a multiple the block can build")

    def _pad(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, 1, N) -> zero-padded to whole token frames, as the authors' encode does."""
        extra = -audio.shape[-1] % self.config.hop
        return torch.nn.functional.pad(audio, (0, extra)) if extra else audio

    def latents(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio (B, N) -> pre-quantization latents (B, dimension, ceil(N / hop)), one whole pass."""
        x = self.encoder(self._pad(audio[:, None]))
        x = self.encoder_transformer(x.transpose(1, 2)).transpose(1, 2)
        return self.downsample(x)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, q, T) -> audio (B, T * hop), one whole pass."""
        x = self.upsample(self.dequantize(codes))
        x = self.decoder_transformer(x.transpose(1, 2)).transpose(1, 2)
        return self.decoder(x)[:, 0]

    def stream_encoder(self, audio: torch.Tensor, state: dict[str, Any], final: bool) -> torch.Tensor:
        """Next piece of audio (B, 1, n) (a multiple of ``hop`` unless ``final``) -> the latents it completes
        (B, dimension, t); pieces in order give :meth:`latents` of the whole."""
        if final:
            audio = self._pad(audio)
        x = self.encoder.stream(audio, state.setdefault("seanet", {}), final)
        x = self.encoder_transformer.stream(x.transpose(1, 2), state.setdefault("transformer", {})).transpose(1, 2)
        return self.downsample.stream(x, state.setdefault("downsample", {}), final)

    def stream_decoder(self, latents: torch.Tensor, state: dict[str, Any], final: bool) -> torch.Tensor:
        """Next quantized latents (B, dimension, t) -> their audio (B, 1, t * hop)."""
        x = self.upsample.stream(latents, state.setdefault("upsample", {}), final)
        x = self.decoder_transformer.stream(x.transpose(1, 2), state.setdefault("transformer", {})).transpose(1, 2)
        return self.decoder.stream(x, state.setdefault("seanet", {}), final)


# -- the authors' layout ----------------------------------------------------------------------------
_LAYER = re.compile(r"^(encoder|decoder)_transformer\.transformer\.layers\.(\d+)\.(.+)$")
_LAYER_PARTS = {
    "self_attn.in_proj_weight": "attention.qkv.weight", "self_attn.in_proj.weight": "attention.qkv.weight",
    "self_attn.in_projs.0.weight": "attention.qkv.weight", "self_attn.out_proj.weight": "attention.out.weight",
    "self_attn.out_projs.0.weight": "attention.out.weight",
    "norm1.weight": "attention_norm.weight", "norm1.bias": "attention_norm.bias",
    "norm2.weight": "mlp_norm.weight", "norm2.bias": "mlp_norm.bias",
    "linear1.weight": "mlp.0.weight", "linear2.weight": "mlp.2.weight",
    "layer_scale_1.scale": "attention_scale", "layer_scale_2.scale": "mlp_scale",
}
_CODEBOOK = re.compile(r"^quantizer\.rvq_(first|rest)\.vq\.layers\.(\d+)\._codebook\.(\w+)$")
_CODEBOOK_PARTS = {"embedding_sum": "sum", "embed_sum": "sum", "embed_avg": "sum",
                   "cluster_usage": "usage", "cluster_size": "usage"}
_PROJECTION = re.compile(r"^quantizer\.rvq_(first|rest)\.(input|output)_proj\.weight$")
_GROUPS = {"first": "semantic", "rest": "acoustic"}
_RESAMPLE = {"downsample.conv.conv.conv.weight": "downsample.weight",
             "upsample.convtr.convtr.convtr.weight": "upsample.weight"}


#: HF transformers' names: transformers 5's nested prefixes -> the flat ones ``kyutai/mimi`` is saved with
_HF_NESTED = (("encoder.encoder_seanet.layers.", "encoder.layers."), ("decoder.decoder_seanet.layers.", "decoder.layers."),
              ("encoder.encoder_transformer.", "encoder_transformer."),
              ("decoder.decoder_transformer.", "decoder_transformer."),
              ("encoder.downsample.", "downsample."), ("decoder.upsample.", "upsample."))
_HF_LAYER = re.compile(r"^(encoder|decoder)_transformer\.layers\.(\d+)\.(.+)$")
_HF_LAYER_PARTS = {
    "self_attn.o_proj.weight": "attention.out.weight",
    "input_layernorm.weight": "attention_norm.weight", "input_layernorm.bias": "attention_norm.bias",
    "post_attention_layernorm.weight": "mlp_norm.weight", "post_attention_layernorm.bias": "mlp_norm.bias",
    "mlp.fc1.weight": "mlp.0.weight", "mlp.fc2.weight": "mlp.2.weight",
    "self_attn_layer_scale.scale": "attention_scale", "mlp_layer_scale.scale": "mlp_scale",
}
_HF_QUANTIZER = re.compile(r"^quantizer\.(semantic|acoustic)_residual_vector_quantizer\.(.+)$")
_HF_CODEBOOK = re.compile(r"^layers\.(\d+)\.codebook\.(\w+)$")


def looks_like(keys: set[str], hf_config: dict[str, Any] | None = None) -> bool:
    """True when ``keys`` hold a Mimi model in the authors' or HF's layout (split-RVQ codebooks, encoder
    transformer, SEANet encoder) and a snapshot's config.json (if any) does not name another model type."""
    if hf_config is not None and hf_config.get("model_type") not in (None, "mimi"):
        return False
    if any(_HF_QUANTIZER.match(k) for k in keys):
        return any(k.startswith(("encoder.layers.0.", "encoder.encoder_seanet.layers.0.")) for k in keys)
    return (any(_CODEBOOK.match(k) for k in keys) and any(_LAYER.match(k) for k in keys)
            and any(k.startswith("encoder.model.0.") for k in keys))


def hf_to_authors(state: dict[str, torch.Tensor], heads: int) -> dict[str, torch.Tensor]:
    """HF transformers' Mimi names -> the authors' (the query/key rows put back in interleaved-RoPE order;
    q, k and v joined into one projection). Names neither layout knows pass through."""
    out: dict[str, torch.Tensor] = {}
    attention: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        for nested, flat in _HF_NESTED:
            if key.startswith(nested):
                key = flat + key[len(nested):]
                break
        layer, quantizer = _HF_LAYER.match(key), _HF_QUANTIZER.match(key)
        if key.startswith(("encoder.layers.", "decoder.layers.")):
            out[key.replace(".layers.", ".model.", 1)] = value
        elif layer and layer.group(3) in ("self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight"):
            attention.setdefault((layer.group(1), layer.group(2)), {})[layer.group(3)[10]] = value
        elif layer and layer.group(3) in _HF_LAYER_PARTS:
            out[f"{layer.group(1)}_transformer.blocks.{layer.group(2)}.{_HF_LAYER_PARTS[layer.group(3)]}"] = value
        elif quantizer:
            group = "first" if quantizer.group(1) == "semantic" else "rest"
            codebook = _HF_CODEBOOK.match(quantizer.group(2))
            if codebook:
                name = {"embed_sum": "embedding_sum", "initialized": "_initialized"}.get(codebook.group(2), codebook.group(2))
                out[f"quantizer.rvq_{group}.vq.layers.{codebook.group(1)}._codebook.{name}"] = value
            else:
                out[f"quantizer.rvq_{group}.{quantizer.group(2)}"] = value
        elif key in ("downsample.conv.weight", "upsample.conv.weight"):
            out[{"downsample.conv.weight": "downsample.conv.conv.conv.weight",
                 "upsample.conv.weight": "upsample.convtr.convtr.convtr.weight"}[key]] = value
        else:
            out[key] = value
    for (side, index), parts in attention.items():
        if set(parts) != {"q", "k", "v"}:
            raise InputError(f"Mimi {side} transformer layer {index} lacks one of its q/k/v projections")
        q, k = (_unpermute_rope(parts[name].float(), heads) for name in ("q", "k"))
        out[f"{side}_transformer.transformer.layers.{index}.self_attn.in_proj_weight"] = torch.cat([q, k, parts["v"].float()])
    return out


def _unpermute_rope(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """Rows of a q/k projection in rotate-half order (per head: all real parts, then all imaginary) -> the
    interleaved order the authors' RoPE uses (pairs of adjacent channels)."""
    rows, cols = weight.shape
    return weight.view(heads, 2, rows // heads // 2, cols).transpose(1, 2).reshape(rows, cols)


def config_from_hf(hf: dict[str, Any], source: str = "this Mimi snapshot") -> dict[str, Any]:
    """Fields of a HF ``MimiConfig`` (config.json, model_type "mimi") as MimiConfig overrides; one InputError
    line for options this port does not implement."""
    rope = hf.get("rope_parameters") or {}
    heads = int(hf.get("num_attention_heads", 8))
    hidden = int(hf.get("hidden_size", 512))
    unsupported = [name for name, ok in (
        ("num_key_value_heads", int(hf.get("num_key_value_heads", heads)) == heads),
        ("head_dim", int(hf.get("head_dim") or hidden // heads) * heads == hidden),
        ("hidden_act", hf.get("hidden_act", "gelu") == "gelu"), ("norm_eps", float(hf.get("norm_eps", 1e-5)) == 1e-5),
        ("audio_channels", int(hf.get("audio_channels", 1)) == 1), ("use_causal_conv", hf.get("use_causal_conv", True)),
        ("attention_bias", not hf.get("attention_bias", False)), ("trim_right_ratio", hf.get("trim_right_ratio", 1.0) == 1.0),
        ("rope_type", rope.get("rope_type", "default") == "default")) if not ok]
    if unsupported:
        raise InputError(f"{source}: its config.json sets {unsupported[0]} to a value the Mimi port does not "
                         f"implement (it ports the published kyutai/mimi options)")
    return dict(heads=heads, context=int(hf.get("sliding_window") or 250),
                max_period=float(rope.get("rope_theta", hf.get("rope_theta", 10000.0))),
                sample_rate=int(hf.get("sampling_rate", 24000)),
                seanet=dict(dilation_base=int(hf.get("dilation_growth_rate", 2)), pad_mode=hf.get("pad_mode", "constant")))


def canonical_keys(state: dict[str, torch.Tensor], source: str = "the checkpoint") -> dict[str, torch.Tensor]:
    """The authors' state dict -> this port's keys: SEANet names as EnCodec's, transformer layers as
    :class:`tokkit.nn.transformer.TransformerBlock`'s, 1x1-conv projections as Linear weights, each codebook
    derived from its EMA sums; the ``_initialized`` flags are dropped. Unknown names pass through (the
    shape check names them)."""
    from tokkit.codecs.audio.published.encodec import canonical_keys as seanet_keys

    out = seanet_keys({k: v for k, v in state.items() if k.startswith(("encoder.model.", "decoder.model."))})
    sums: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if key.startswith(("encoder.model.", "decoder.model.")):
            continue
        layer, codebook, projection = _LAYER.match(key), _CODEBOOK.match(key), _PROJECTION.match(key)
        if layer and layer.group(3) in _LAYER_PARTS:
            out[f"{layer.group(1)}_transformer.blocks.{layer.group(2)}.{_LAYER_PARTS[layer.group(3)]}"] = value.float()
        elif codebook and codebook.group(3) == "_initialized":
            continue
        elif codebook and codebook.group(3) in _CODEBOOK_PARTS:
            sums.setdefault((codebook.group(1), codebook.group(2)), {})[_CODEBOOK_PARTS[codebook.group(3)]] = value
        elif projection:
            side = "project_in" if projection.group(2) == "input" else "project_out"
            weight = value.float()
            out[f"quantizer.{_GROUPS[projection.group(1)]}.{side}.weight"] = weight[..., 0] if weight.ndim == 3 else weight
        elif key in _RESAMPLE:
            out[_RESAMPLE[key]] = value.float()
        else:
            out[key] = value
    for (group, level), parts in sums.items():
        if set(parts) != {"sum", "usage"}:
            raise InputError(f"{source}: Mimi codebook {level} of rvq_{group} lacks its embedding_sum or cluster_usage")
        usage = parts["usage"].float().clamp(min=CODEBOOK_EPSILON)
        out[f"quantizer.{_GROUPS[group]}.levels.{level}.codebook"] = parts["sum"].float() / usage[:, None]
    return out


def infer_config(state: dict[str, torch.Tensor], **overrides: Any) -> MimiConfig:
    """The Mimi config that a canonical state dict's shapes describe; what shapes cannot tell (heads, window,
    RoPE period, sample rate, dilation base) takes the published model's values unless in ``overrides``."""
    try:
        first = state["encoder.layers.0.weight"]
        semantic = _levels(state, "semantic")
        acoustic = _levels(state, "acoustic")
        codebook = state["quantizer.semantic.levels.0.codebook"]
        downsample = state["downsample.weight"]
        linear1 = state["encoder_transformer.blocks.0.mlp.0.weight"]
    except (KeyError, IndexError):
        raise InputError("the checkpoint lacks Mimi's first encoder conv, its codebooks, downsampling conv or "
                         "transformer") from None
    convs = sorted((int(k.split(".")[2]), v) for k, v in state.items()
                   if re.fullmatch(r"encoder\.layers\.\d+\.weight", k))
    ratios = [w.shape[-1] // 2 for i, w in convs[1:-1] if w.shape[0] == 2 * w.shape[1]]
    residual = [v for k, v in state.items() if re.fullmatch(r"encoder\.layers\.\d+\.block\.1\.weight", k)]
    layers = len({k.split(".")[2] for k in state if k.startswith("encoder_transformer.blocks.")})
    seanet = dict(_mimi_seanet().to_dict())
    seanet.update(n_filters=first.shape[0], dimension=convs[-1][1].shape[0], ratios=tuple(reversed(ratios)),
                  kernel_size=first.shape[-1], last_kernel_size=convs[-1][1].shape[-1],
                  n_residual_layers=max(1, len(residual) // max(1, len(ratios))) if residual else 0,
                  true_skip=not any(".shortcut." in k for k in state if k.startswith("encoder.")))
    if residual:
        seanet.update(residual_kernel_size=residual[0].shape[-1], compress=residual[0].shape[1] // residual[0].shape[0])
    seanet.update(overrides.pop("seanet", {}))
    fields = dict(n_q=semantic + acoustic, n_q_semantic=semantic, codebook_size=codebook.shape[0],
                  codebook_dim=codebook.shape[1], layers=layers, dim_feedforward=linear1.shape[0],
                  layer_scale=any(k.endswith("attention_scale") for k in state),
                  seanet=SEANetConfig(**seanet))
    sample_rate = overrides.get("sample_rate", MimiConfig.sample_rate)
    fields["frame_rate"] = sample_rate / fields["seanet"].hop / (downsample.shape[-1] // 2)
    fields.update(overrides)
    return MimiConfig(**fields)


def _levels(state: dict[str, torch.Tensor], group: str) -> int:
    found = {int(k.split(".")[3]) for k in state if k.startswith(f"quantizer.{group}.levels.")}
    if not found:
        raise IndexError(group)
    return max(found) + 1


def from_reference(state: dict[str, torch.Tensor], source: str, *, hf_config: dict[str, Any] | None = None,
                   **overrides: Any) -> MimiModel:
    """Build the port from the authors' or HF's state dict (and a HF snapshot's config.json); mismatched shapes
    raise InputError naming ``source``. ``overrides``: MimiConfig fields the tensors cannot tell (``context``, ...)."""
    if hf_config:
        overrides = {**config_from_hf(hf_config, source), **overrides}
    if any(_HF_QUANTIZER.match(k) for k in state):
        state = hf_to_authors(state, overrides.get("heads", MimiConfig.heads))
    canonical = canonical_keys(state, source)
    model = MimiModel(infer_config(canonical, **overrides))
    load_checked(model, canonical, source)
    return model


def load(checkpoint: Any, device: str) -> Any:
    """A :class:`tokkit.codecs.published.Checkpoint` of Mimi -> its tokenizer on ``device``."""
    from tokkit.codecs.audio.published.tokenizer import MimiTokenizer

    return MimiTokenizer(from_reference(checkpoint.state, str(checkpoint.weights), hf_config=checkpoint.hf_config),
                         device=device)


def load_saved(directory: str, config: dict, *, device: str = "auto"):
    """Registry loader for tokkit folders of a converted Mimi (config.json "kind": "audio.mimi")."""
    from tokkit.codecs.audio.published import load_port
    from tokkit.codecs.audio.published.tokenizer import MimiTokenizer

    return load_port(directory, MimiModel(MimiConfig.from_dict(config)), MimiTokenizer, device=device)
