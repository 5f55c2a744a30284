"""EnCodec (Défossez et al. 2022), 24 kHz: causal SEANet encoder -> 32-level RVQ (1024 codes, 75 Hz) -> decoder.

The model is :class:`tokkit.nn.seanet.SEANetEncoder` / ``SEANetDecoder`` plus :class:`tokkit.quant.RVQ`
holding the authors' codebooks; :func:`from_reference` maps both published layouts (the ``encodec``
package's ``encodec_24khz-*.th`` and the HF ``facebook/encodec_24khz`` snapshot) onto it, folding
weight norm into plain weights. Bandwidth b kbps keeps the first ``floor(b / 0.75)`` codebooks.
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
from tokkit.nn.seanet import SEANetConfig, SEANetDecoder, SEANetEncoder
from tokkit.nn.weights import fold_weight_norm_state, load_checked
from tokkit.quant.rvq import RVQ, RVQConfig

KIND = "audio.encodec"
#: what this family is, in messages (tokkit.codecs.published)
LABEL = "EnCodec 24 kHz"


@dataclasses.dataclass
class EncodecConfig(JsonConfig):
    """An EnCodec model: its SEANet shape, ``n_q`` codebooks of ``codebook_size`` codes, the rate it runs at."""

    kind = KIND

    name: str = "encodec_24khz"
    sample_rate: int = 24000
    n_q: int = 32
    codebook_size: int = 1024
    target_bandwidths: tuple[float, ...] = (1.5, 3.0, 6.0, 12.0, 24.0)
    seanet: SEANetConfig = dataclasses.field(default_factory=SEANetConfig)

    def __post_init__(self) -> None:
        if isinstance(self.seanet, dict):
            self.seanet = SEANetConfig.from_dict(self.seanet)
        self.target_bandwidths = tuple(float(b) for b in self.target_bandwidths)
        if self.n_q < 1 or self.codebook_size < 2 or self.sample_rate < 1:
            raise InputError(f"EnCodec config needs n_q >= 1, codebook_size >= 2, sample_rate >= 1, got {self}")
        if self.seanet.channels != 1:
            raise InputError("only mono EnCodec models (the 24 kHz one) are supported; the 48 kHz stereo model is not yet")

    @property
    def hop(self) -> int:
        return self.seanet.hop

    @property
    def frame_rate(self) -> int:
        return math.ceil(self.sample_rate / self.hop)

    @property
    def kbps_per_codebook(self) -> float:
        return math.log2(self.codebook_size) * self.frame_rate / 1000


class EncodecModel(RVQCodec):
    """``encode`` audio (B, N) -> codes (B, n_q, ceil(N / hop)); ``decode`` codes (B, q, T) -> audio (B, T * hop)."""

    def __init__(self, config: EncodecConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = SEANetEncoder(config.seanet)
        self.decoder = SEANetDecoder(config.seanet)
        self.quantizer = RVQ(RVQConfig(depth=config.n_q, codebook_size=config.codebook_size,
                                       dim=config.seanet.dimension, kmeans_init=False, decay=0.0,
                                       dead_code_threshold=0.0))

    def latents(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio (B, N) -> pre-quantization latents (B, dimension, ceil(N / hop))."""
        return self.encoder(audio[:, None])


# -- the authors' layouts ---------------------------------------------------------------------------
_CODEBOOK = re.compile(r"^quantizer\.(?:vq\.)?layers\.(\d+)\.(?:_codebook|codebook)\.(\w+)$")
_QUANTIZER_EXTRA = ("inited", "cluster_size", "embed_avg")


def canonical_keys(state: dict[str, torch.Tensor], prefix: str = "") -> dict[str, torch.Tensor]:
    """Either published layout (under ``prefix``) -> this port's keys, weight norm folded, EMA statistics dropped."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not key.startswith(prefix):
            continue
        key = key[len(prefix):]
        match = _CODEBOOK.match(key)
        if match:
            if match.group(2) == "embed":
                out[f"quantizer.levels.{match.group(1)}.codebook"] = value.float()
            elif match.group(2) not in _QUANTIZER_EXTRA:
                out[key] = value  # unknown: left for the shape check to name
            continue
        key = re.sub(r"^(encoder|decoder)\.(?:model|layers)\.", r"\1.layers.", key)
        key = re.sub(r"\.(?:conv\.conv|convtr\.convtr|conv)\.(?=(weight|bias|parametrizations))", ".", key)
        out[key] = value
    return fold_weight_norm_state(out)


def looks_like(keys: set[str], hf_config: dict[str, Any] | None = None, prefix: str = "") -> bool:
    """True when ``keys`` hold an EnCodec model (either layout) under ``prefix`` and a snapshot's
    config.json (if any) does not name another model type."""
    if hf_config is not None and hf_config.get("model_type") not in (None, "encodec"):
        return False
    has_codebooks = any(_CODEBOOK.match(k[len(prefix):]) for k in keys if k.startswith(prefix))
    has_encoder = any(k.startswith(prefix + f"encoder.{part}.0.") for k in keys for part in ("model", "layers"))
    return has_codebooks and has_encoder


def load(checkpoint: Any, device: str) -> Any:
    """A :class:`tokkit.codecs.published.Checkpoint` of EnCodec -> its tokenizer on ``device``."""
    from tokkit.codecs.audio.published.tokenizer import PublishedCodecTokenizer

    model = from_reference(checkpoint.state, str(checkpoint.weights), hf_config=checkpoint.hf_config)
    return PublishedCodecTokenizer(model, device=device)


def infer_config(state: dict[str, torch.Tensor], **overrides: Any) -> EncodecConfig:
    """The EnCodec config that a canonical state dict's shapes describe (24 kHz defaults otherwise)."""
    if any(".norm." in k for k in state):
        raise InputError("this EnCodec checkpoint uses time_group_norm (the 48 kHz stereo model), which is not supported yet")
    try:
        first = state["encoder.layers.0.weight"]
        levels = sorted(int(k.split(".")[2]) for k in state if k.startswith("quantizer.levels."))
        codebook = state[f"quantizer.levels.{levels[0]}.codebook"]
    except (KeyError, IndexError):
        raise InputError("the checkpoint lacks EnCodec's first encoder conv or its codebooks") from None
    # strided encoder convs have kernel 2 * stride; they are the convs between residual units
    ratios = []
    for key, value in sorted(state.items(), key=lambda kv: _layer_index(kv[0])):
        if key.startswith("encoder.layers.") and key.count(".") == 3 and key.endswith(".weight") \
                and _layer_index(key) > 0 and value.shape[-1] % 2 == 0 and value.shape[0] == 2 * value.shape[1]:
            ratios.append(value.shape[-1] // 2)
    lstm = len({k for k in state if k.startswith("encoder.") and ".lstm.weight_ih_l" in k})
    seanet = dict(channels=first.shape[1], n_filters=first.shape[0], dimension=codebook.shape[1],
                  ratios=tuple(reversed(ratios)), lstm=lstm)
    seanet.update(overrides.pop("seanet", {}))
    if "target_bandwidths" not in overrides:  # the 24 kHz release's list, cut to what these codebooks allow
        probe = EncodecConfig(n_q=len(levels), codebook_size=codebook.shape[0], seanet=SEANetConfig(**seanet))
        top = probe.n_q * probe.kbps_per_codebook
        overrides["target_bandwidths"] = tuple(b for b in (1.5, 3.0, 6.0, 12.0, 24.0) if b <= top + 1e-9) or (top,)
    return EncodecConfig(n_q=len(levels), codebook_size=codebook.shape[0], seanet=SEANetConfig(**seanet), **overrides)


def _layer_index(key: str) -> int:
    parts = key.split(".")
    return int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else -1


def config_from_hf(hf: dict[str, Any]) -> dict[str, Any]:
    """Fields of a HF ``EncodecConfig`` (config.json, model_type "encodec") as EncodecConfig overrides."""
    if hf.get("norm_type", "weight_norm") != "weight_norm" or hf.get("audio_channels", 1) != 1 or hf.get("normalize"):
        raise InputError("this EnCodec snapshot is the 48 kHz stereo / normalised model, which is not supported yet")
    seanet = dict(dimension=hf.get("hidden_size", 128), n_filters=hf.get("num_filters", 32),
                  n_residual_layers=hf.get("num_residual_layers", 1), ratios=tuple(hf.get("upsampling_ratios", (8, 5, 4, 2))),
                  kernel_size=hf.get("kernel_size", 7), last_kernel_size=hf.get("last_kernel_size", 7),
                  residual_kernel_size=hf.get("residual_kernel_size", 3), dilation_base=hf.get("dilation_growth_rate", 2),
                  causal=hf.get("use_causal_conv", True), pad_mode=hf.get("pad_mode", "reflect"),
                  true_skip=not hf.get("use_conv_shortcut", True), compress=hf.get("compress", 2),
                  lstm=hf.get("num_lstm_layers", 2), trim_right_ratio=hf.get("trim_right_ratio", 1.0))
    return dict(sample_rate=int(hf.get("sampling_rate", 24000)), seanet=seanet,
                target_bandwidths=tuple(hf.get("target_bandwidths", (1.5, 3.0, 6.0, 12.0, 24.0))),
                name=f"encodec_{int(hf.get('sampling_rate', 24000)) // 1000}khz")


def from_reference(state: dict[str, torch.Tensor], source: str, *, prefix: str = "",
                   hf_config: dict[str, Any] | None = None) -> EncodecModel:
    """Build the port from an authors' state dict (either layout); mismatched shapes raise InputError naming ``source``."""
    canonical = canonical_keys(state, prefix)
    overrides = config_from_hf(hf_config) if hf_config else {}
    config = infer_config(canonical, **overrides)
    if hf_config and "codebook_size" in hf_config and hf_config["codebook_size"] != config.codebook_size:
        raise InputError(f"{source}: config.json says codebook_size {hf_config['codebook_size']} but the weights hold "
                         f"{config.codebook_size} codes")
    model = EncodecModel(config)
    load_checked(model, canonical, source)
    return model
