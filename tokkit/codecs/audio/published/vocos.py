"""Vocos (Siuzdak 2023): ConvNeXt backbone -> iSTFT head, from mel features or from EnCodec codes.

Built from tokkit parts: :class:`tokkit.nn.mel.LogMel` with HTK filters (no area normalisation,
magnitude, log floored at 1e-7), :class:`tokkit.nn.convnext.ConvNeXtStack` (AdaLayerNorm per EnCodec
bandwidth for the EnCodec variant) and :class:`tokkit.nn.stft.SameSTFT` for the "same"-padding iSTFT.
The authors publish ``config.yaml`` + ``pytorch_model.bin`` (HF ``charactr/vocos-mel-24khz`` and
``charactr/vocos-encodec-24khz``); :func:`load_vocos` reads them without running code.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tokkit.core.config import JsonConfig
from tokkit.errors import InputError
from tokkit.nn.convnext import ConvNeXtStack
from tokkit.nn.mel import LogMel
from tokkit.nn.stft import ISTFTHead

KIND = "audio.vocos"


@dataclasses.dataclass
class VocosConfig(JsonConfig):
    """``features``: "mel" (``n_mels`` HTK bands of an ``n_fft``/``hop`` STFT) or "encodec" (sum of the
    embeddings of ``n_q`` codebooks of ``codebook_size``, one AdaLayerNorm row per bandwidth)."""

    kind = KIND

    features: str = "mel"
    sample_rate: int = 24000
    n_fft: int = 1024
    hop: int = 256
    n_mels: int = 100
    mel_padding: str = "center"
    bandwidths: tuple[float, ...] = ()
    n_q: int = 0
    codebook_size: int = 1024
    input_channels: int = 100
    dim: int = 512
    intermediate_dim: int = 1536
    num_layers: int = 8
    head_n_fft: int = 1024
    head_hop: int = 256

    def __post_init__(self) -> None:
        self.bandwidths = tuple(float(b) for b in self.bandwidths)
        if self.features not in ("mel", "encodec"):
            raise InputError(f"Vocos features must be 'mel' or 'encodec', got {self.features!r}")
        if self.features == "encodec" and not self.bandwidths:
            raise InputError("an EnCodec-feature Vocos needs its bandwidths")


class VocosModel(nn.Module):
    """``features`` (B, C, T) [+ bandwidth id] -> audio (B, T * head_hop); ``mel`` audio -> (B, n_mels, frames);
    ``embed`` EnCodec codes (B, q, T) -> features (B, codebook_dim, T)."""

    def __init__(self, config: VocosConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        if c.features == "mel":
            self.mel = LogMel(c.sample_rate, c.n_fft, c.hop, c.n_mels, eps=1e-7, scale="htk", area_norm=False,
                              power=1.0, padding=c.mel_padding)
        else:
            self.codebook_weights = nn.Parameter(torch.zeros(c.n_q * c.codebook_size, c.input_channels),
                                                 requires_grad=False)
        conditions = len(c.bandwidths) if c.features == "encodec" else None
        self.backbone = ConvNeXtStack(c.input_channels, c.dim, c.num_layers, c.intermediate_dim, conditions=conditions)
        self.head = ISTFTHead(c.dim, c.head_n_fft, c.head_hop)

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        """EnCodec codes (B, q, T) -> features (B, dim, T): the sum of each level's codebook row."""
        offsets = torch.arange(codes.shape[1], device=codes.device)[None, :, None] * self.config.codebook_size
        return nn.functional.embedding(codes + offsets, self.codebook_weights).sum(dim=1).transpose(1, 2)

    def vocode(self, features: torch.Tensor, bandwidth_id: torch.Tensor | None = None) -> torch.Tensor:
        """Features (B, C, T) -> audio (B, T * head_hop) through the backbone and the iSTFT head."""
        return self.head(self.backbone(features, condition=bandwidth_id))

    def bandwidth_id(self, n_q: int) -> int:
        """Index of the bandwidth whose codebook count is ``n_q`` (InputError if none)."""
        per = self.config.n_q / self.config.bandwidths[-1]
        for index, bandwidth in enumerate(self.config.bandwidths):
            if round(bandwidth * per) == n_q:
                return index
        allowed = ", ".join(str(round(b * per)) for b in self.config.bandwidths)
        raise InputError(f"this Vocos decodes EnCodec tokens with {allowed} codebooks, not {n_q}")


# -- the authors' files -----------------------------------------------------------------------------
def _key(name: str) -> str | None:
    """A Vocos state-dict name -> this port's name (None: derived buffers and EnCodec weights)."""
    if name.startswith(("feature_extractor.mel_spec.", "feature_extractor.encodec.", "head.istft.")):
        return None
    if name == "feature_extractor.codebook_weights":
        return "codebook_weights"
    return backbone_key(name)


def backbone_key(name: str) -> str:
    """A Vocos backbone / head tensor name -> the name in :class:`ConvNeXtStack` / :class:`ISTFTHead`."""
    name = name.replace("backbone.embed.", "backbone.stem.").replace("backbone.norm.", "backbone.stem_norm.")
    name = name.replace("backbone.final_layer_norm.", "backbone.norm.").replace("backbone.convnext.", "backbone.blocks.")
    for theirs, ours in ((".dwconv.", ".depthwise."), (".pwconv1.", ".expand."), (".pwconv2.", ".project.")):
        name = name.replace(theirs, ours)
    return name[:-len(".gamma")] + ".scale" if name.endswith(".gamma") else name


def config_from_yaml(hparams: dict[str, Any], source: str) -> VocosConfig:
    """The authors' ``config.yaml`` (feature_extractor / backbone / head with class_path + init_args) -> VocosConfig."""
    try:
        feature, backbone, head = (hparams[k] for k in ("feature_extractor", "backbone", "head"))
        fa, ba, ha = (part.get("init_args", {}) for part in (feature, backbone, head))
        feature_class, head_class = feature["class_path"], head["class_path"]
    except (KeyError, TypeError, AttributeError):
        raise InputError(f"{source} is not a Vocos config.yaml (feature_extractor, backbone, head)") from None
    if not head_class.endswith("ISTFTHead") or ha.get("padding", "same") != "same":
        raise InputError(f"{source}: only Vocos's ISTFT head with 'same' padding is supported, not {head_class}")
    if not backbone.get("class_path", "").endswith("VocosBackbone"):
        raise InputError(f"{source}: only the ConvNeXt VocosBackbone is supported")
    common = dict(input_channels=ba["input_channels"], dim=ba["dim"], intermediate_dim=ba["intermediate_dim"],
                  num_layers=ba["num_layers"], head_n_fft=ha["n_fft"], head_hop=ha["hop_length"])
    if feature_class.endswith("MelSpectrogramFeatures"):
        return VocosConfig(features="mel", sample_rate=fa.get("sample_rate", 24000), n_fft=fa.get("n_fft", 1024),
                           hop=fa.get("hop_length", 256), n_mels=fa.get("n_mels", 100),
                           mel_padding=fa.get("padding", "center"), **common)
    if feature_class.endswith("EncodecFeatures"):
        if fa.get("encodec_model", "encodec_24khz") != "encodec_24khz":
            raise InputError(f"{source}: only Vocos for EnCodec 24 kHz is supported")
        return VocosConfig(features="encodec", bandwidths=tuple(fa.get("bandwidths", (1.5, 3.0, 6.0, 12.0))),
                           n_q=0, **common)  # n_q and codebook size come from the weights
    raise InputError(f"{source}: unknown Vocos feature extractor {feature_class}")


def load_vocos(path: str | os.PathLike) -> VocosModel:
    """A Vocos snapshot folder (config.yaml + pytorch_model.bin or model.safetensors) -> the port, eval mode."""
    import yaml

    from tokkit.nn.weights import load_checked, read_state_dict

    folder = Path(path)
    config_path = folder / "config.yaml"
    try:
        hparams = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read the Vocos config {config_path}: {exc}") from None
    config = config_from_yaml(hparams, str(config_path))
    weights = next((folder / n for n in ("model.safetensors", "pytorch_model.bin") if (folder / n).is_file()), None)
    if weights is None:
        raise InputError(f"{folder} has no pytorch_model.bin or model.safetensors")
    state = {}
    for name, value in read_state_dict(weights).items():
        key = _key(name)
        if key is not None:
            state[key] = value.float()
    if config.features == "encodec":
        table = state.get("codebook_weights")
        if table is None:
            raise InputError(f"{weights} lacks feature_extractor.codebook_weights")
        # rows = n_q * bins, with n_q the codebooks of the top bandwidth at 75 frames/s of log2(bins) bits
        fits = [(round(config.bandwidths[-1] / (bits * 0.075)), 2 ** bits) for bits in range(1, 17)]
        fits = [(n_q, bins) for n_q, bins in fits if n_q * bins == table.shape[0]]
        if not fits or table.shape[1] != config.input_channels:
            raise InputError(f"{weights}: codebook_weights of shape {tuple(table.shape)} do not fit EnCodec 24 kHz "
                             f"at {config.bandwidths[-1]} kbps")
        config = dataclasses.replace(config, n_q=fits[0][0], codebook_size=fits[0][1])
    model = VocosModel(config)
    load_checked(model, state, str(weights))
    return model


def refuse_alone(folder: str | os.PathLike) -> None:
    """Raise the one-line InputError for a Vocos folder loaded as a tokenizer on its own (it has no encoder)."""
    import yaml

    config_path = Path(folder) / "config.yaml"
    try:
        hparams = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read the Vocos config {config_path}: {exc}") from None
    config = config_from_yaml(hparams, str(config_path))
    if config.features == "mel":
        raise InputError(f"{folder} is Vocos's mel vocoder (audio -> mel -> audio, no tokens), not a tokenizer; use "
                         f"tokkit.codecs.audio.published.vocos.load_vocos({str(folder)!r}) as a vocoder")
    raise InputError(f"{folder} is Vocos's decoder for EnCodec tokens and has no encoder: pair it with an EnCodec "
                     f"24 kHz checkpoint, tokkit.load(VOCOS, encodec=ENCODEC) or "
                     f"tokkit convert VOCOS --encodec ENCODEC -o DIR")


def context_frames(model: VocosModel) -> int:
    """Frames of context on each side after which a window's decoded middle equals a whole pass: the
    backbone's reach plus the iSTFT frames that overlap one hop."""
    return model.backbone.reach + -(-model.config.head_n_fft // model.config.head_hop)
