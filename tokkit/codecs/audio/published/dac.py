"""DAC, the Descript Audio Codec (Kumar et al. 2023): Snake conv encoder -> RVQ of factorized, cosine-matched
codes -> Snake conv decoder. Released at 16 kHz (12 codebooks), 24 kHz (32) and 44.1 kHz (9 or 18), 1024
codes each, 50 / 75 / 86.1 frames per second.

The model is :class:`tokkit.nn.snakenet.SnakeEncoder` / ``SnakeDecoder`` plus :class:`tokkit.quant.RVQ`
with ``level_codebook_dim`` (each level projects the residual to 8 dims, picks the code of highest cosine
similarity there, and projects it back: the authors' in_proj / L2-normalised lookup / out_proj). The
authors' ``weights_*.pth`` (``{"state_dict": ..., "metadata": {"kwargs": ...}}``) is read with
``torch.load(weights_only=True)``; the architecture comes from the tensors, the sample rate from the
metadata (or, without it, from the released configurations).
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
from tokkit.nn.snakenet import SnakeDecoder, SnakeEncoder, SnakeNetConfig
from tokkit.nn.weights import fold_weight_norm_state
from tokkit.quant.rvq import RVQ, RVQConfig

KIND = "audio.dac"
#: (hop, codebooks) -> sample rate of the released checkpoints, for files without metadata
RELEASED_RATES = {(512, 9): 44100, (512, 18): 44100, (320, 32): 24000, (320, 12): 16000}

#: what this family is, in messages (tokkit.codecs.published)
LABEL = "DAC"


@dataclasses.dataclass
class DACConfig(JsonConfig):
    """A DAC model: its conv stack, ``n_q`` codebooks of ``codebook_size`` codes of width ``codebook_dim``."""

    kind = KIND

    name: str = "dac_44khz"
    sample_rate: int = 44100
    n_q: int = 9
    codebook_size: int = 1024
    codebook_dim: int = 8
    net: SnakeNetConfig = dataclasses.field(default_factory=SnakeNetConfig)

    def __post_init__(self) -> None:
        if isinstance(self.net, dict):
            self.net = SnakeNetConfig.from_dict(self.net)
        if self.n_q < 1 or self.codebook_size < 2 or self.codebook_dim < 1 or self.sample_rate < 1:
            raise InputError(f"DAC config needs n_q >= 1, codebook_size >= 2, codebook_dim >= 1, sample_rate >= 1, got {self}")

    @property
    def hop(self) -> int:
        """Audio samples per token frame."""
        return self.net.hop

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    @property
    def kbps_per_codebook(self) -> float:
        return math.log2(self.codebook_size) * self.frame_rate / 1000


def factorized_rvq(depth: int, codebook_size: int, dim: int, codebook_dim: int) -> RVQ:
    """The quantizer DAC and SNAC share: ``depth`` levels, each projecting to ``codebook_dim`` and picking the code of
    highest cosine similarity there (inference only: no EMA, no k-means, no dead-code reset)."""
    return RVQ(RVQConfig(depth=depth, codebook_size=codebook_size, dim=dim, level_codebook_dim=codebook_dim,
                         metric="cos", kmeans_init=False, decay=0.0, dead_code_threshold=0.0))


class DACModel(RVQCodec):
    """``encode`` audio (B, N) -> codes (B, n_q, ceil(N / hop)); ``decode`` codes (B, q, T) -> audio (B, T * hop)."""

    def __init__(self, config: DACConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = SnakeEncoder(config.net)
        self.decoder = SnakeDecoder(config.net)
        self.quantizer = factorized_rvq(config.n_q, config.codebook_size, config.net.latent_dim, config.codebook_dim)

    def latents(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio (B, N) -> pre-quantization latents (B, latent_dim, ceil(N / hop)) (zero-padded to whole frames)."""
        pad = -audio.shape[-1] % self.config.hop
        return self.encoder(torch.nn.functional.pad(audio, (0, pad))[:, None])

    # -- what the windowed tokenizer needs ---------------------------------------------------------
    frame_samples = property(lambda self: self.config.hop, doc="audio samples per token column")
    align_frames = 1  # windows may start at any frame

    def encode_window(self, audio: torch.Tensor, n_q: int) -> torch.Tensor:
        """Audio (B, 1, t) with t a multiple of hop -> codes (B, n_q, t / hop)."""
        return self.quantize(self.encoder(audio), n_q)

    def decode_window(self, codes: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Codes (B, q, T) -> audio (B, 1, ~T * hop)."""
        return self.decoder(self.dequantize(codes))

    def encode_context(self) -> int:
        return self.encoder.context()

    def decode_context(self) -> int:
        return self.decoder.context()


# -- the authors' layout -----------------------------------------------------------------------------
_LEVEL = re.compile(r"^quantizer\.quantizers\.(\d+)\.(in_proj|out_proj|codebook)\.(weight|bias)$")
_PROJ = {"in_proj": "project_in", "out_proj": "project_out"}


def find_prefix(keys: set[str]) -> str | None:
    """The prefix under which a DAC/SNAC-style state dict sits ("", "state_dict.", "generator." ...), or None."""
    for key in keys:
        if key.endswith("quantizer.quantizers.0.codebook.weight"):
            prefix = key[: -len("quantizer.quantizers.0.codebook.weight")]
            if any(k.startswith(prefix + "encoder.block.0.") for k in keys) and \
                    any(k.startswith(prefix + "decoder.model.0.") for k in keys):
                return prefix
    return None


def looks_like(keys: set[str], hf_config: dict[str, Any] | None = None) -> bool:
    """True when ``keys`` hold a DAC model (encoder.block / quantizer.quantizers / decoder.model, no SNAC noise
    blocks); ``hf_config`` is not needed (the family interface of :mod:`tokkit.codecs.published`)."""
    prefix = find_prefix(keys)
    return prefix is not None and not any(".linear." in k for k in keys if k.startswith(prefix + "decoder."))


def canonical_keys(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The authors' state dict (under ``prefix``) -> this port's keys, weight norm folded, 1x1 projections as Linear."""
    folded = fold_weight_norm_state({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
    out: dict[str, torch.Tensor] = {}
    for key, value in folded.items():
        match = _LEVEL.match(key)
        if match is None:
            if not key.endswith(".rel_pos.inv_freq"):  # SNAC's rotary frequencies: derived, not learned
                out[key] = value
            continue
        level, part, what = match.groups()
        if part == "codebook":
            out[f"quantizer.levels.{level}.codebook"] = value
        else:
            out[f"quantizer.levels.{level}.{_PROJ[part]}.{what}"] = value[..., 0] if value.ndim == 3 else value
    return out


def net_from_tensors(state: dict[str, torch.Tensor], **fields: Any) -> SnakeNetConfig:
    """The conv stack a canonical state dict's shapes describe (``fields``: SNAC's extras, e.g. style)."""
    try:
        encoder_dim = state["encoder.block.0.weight"].shape[0]
        decoder_first = state["decoder.model.0.weight"]
    except KeyError as exc:
        raise InputError(f"the checkpoint lacks {exc.args[0]}: not a complete DAC/SNAC model") from None
    encoder_rates, index = [], 1
    while f"encoder.block.{index}.block.4.weight" in state:
        encoder_rates.append(state[f"encoder.block.{index}.block.4.weight"].shape[-1] // 2)
        index += 1
    up = sorted((int(m.group(1)), v.shape[-1] // 2) for k, v in state.items()
                if (m := re.match(r"^decoder\.model\.(\d+)\.block\.1\.weight$", k)) and v.ndim == 3)
    depthwise = fields.get("depthwise", False)
    decoder_dim = state["decoder.model.1.weight"].shape[0] if depthwise else decoder_first.shape[0]
    last = max((int(k.split(".")[2]) for k in state if re.match(r"^encoder\.block\.\d+\.weight$", k)), default=0)
    latent_dim = state[f"encoder.block.{last}.weight"].shape[0]
    if not encoder_rates or not up:
        raise InputError("the checkpoint's encoder or decoder has no strided blocks: not a DAC/SNAC model")
    return SnakeNetConfig(encoder_dim=encoder_dim, encoder_rates=tuple(encoder_rates), latent_dim=latent_dim,
                          decoder_dim=decoder_dim, decoder_rates=tuple(rate for _, rate in up), **fields)


def infer_config(state: dict[str, torch.Tensor], kwargs: dict[str, Any], source: str) -> DACConfig:
    """The DACConfig of a canonical state dict, checked against the checkpoint's metadata ``kwargs`` when it has them."""
    net = net_from_tensors(state)
    levels = sorted(int(k.split(".")[2]) for k in state if k.startswith("quantizer.levels.") and k.endswith(".codebook"))
    if not levels:
        raise InputError(f"{source} holds no DAC codebooks")
    codebook = state[f"quantizer.levels.{levels[0]}.codebook"]
    widths = {state[f"quantizer.levels.{i}.codebook"].shape[1] for i in levels}
    if len(widths) > 1:
        raise InputError(f"{source}: codebooks of different widths {sorted(widths)} are not supported")
    found = dict(encoder_dim=net.encoder_dim, encoder_rates=list(net.encoder_rates), latent_dim=net.latent_dim,
                 decoder_dim=net.decoder_dim, decoder_rates=list(net.decoder_rates), n_codebooks=len(levels),
                 codebook_size=codebook.shape[0], codebook_dim=codebook.shape[1])
    for key, value in found.items():
        stated = kwargs.get(key)
        if key == "codebook_dim" and isinstance(stated, (list, tuple)) and len(set(stated)) == 1:
            stated = stated[0]  # DAC accepts one width per level; the releases use one for all
        if stated is not None and (list(stated) if isinstance(stated, (list, tuple)) else stated) != value:
            raise InputError(f"{source}: its metadata says {key}={stated} but the weights hold {key}={value}")
    rate = kwargs.get("sample_rate") or RELEASED_RATES.get((net.hop, len(levels)))
    if not isinstance(rate, int) or rate < 1:
        raise InputError(f"{source}: no sample rate in its metadata and not a released DAC configuration "
                         f"(hop {net.hop}, {len(levels)} codebooks); convert it from a .pth that has its metadata")
    name = f"dac_{round(rate / 1000)}khz" if rate != 44100 else "dac_44khz"
    return DACConfig(name=name, sample_rate=rate, n_q=len(levels), codebook_size=codebook.shape[0],
                     codebook_dim=codebook.shape[1], net=net)


def from_reference(state: dict[str, torch.Tensor], source: str, *, extras: dict[str, Any] | None = None) -> DACModel:
    """Build the port from the authors' checkpoint tensors (and its ``metadata.kwargs`` in ``extras``)."""
    from tokkit.nn.weights import load_checked

    prefix = find_prefix(set(state))
    if prefix is None:
        raise InputError(f"{source} is not a DAC checkpoint")
    kwargs = {k.rsplit(".", 1)[-1]: v for k, v in (extras or {}).items() if k.startswith("metadata.kwargs.")}
    canonical = canonical_keys(state, prefix)
    model = DACModel(infer_config(canonical, kwargs, source))
    load_checked(model, canonical, source)
    return model


def load(checkpoint: Any, device: str) -> Any:
    """A :class:`tokkit.codecs.published.Checkpoint` of DAC -> its tokenizer on ``device``."""
    from tokkit.codecs.audio.published.windowed import DACTokenizer

    return DACTokenizer(from_reference(checkpoint.state, str(checkpoint.weights), extras=checkpoint.extras), device=device)


def load_saved(directory: str, config: dict, *, device: str = "auto"):
    """Registry loader for tokkit folders of a converted DAC (config.json "kind": "audio.dac")."""
    from tokkit.codecs.audio.published import load_port
    from tokkit.codecs.audio.published.windowed import DACTokenizer

    return load_port(directory, DACModel(DACConfig.from_dict(config)), DACTokenizer, device=device)
