"""Ports of published audio codecs, loaded from the files their authors distribute.

Recognised by content, never by running code (the shared reader and family dispatch of
:mod:`tokkit.codecs.published`; the authors' yaml folders and the EnCodec + Vocos pairing here). Supported so far: EnCodec 24 kHz (both the ``encodec`` package's ``.th`` and the
HF ``facebook/encodec_24khz`` layout), DAC 16/24/44.1 kHz (the authors' ``weights_*.pth``), SNAC (the authors' HF
snapshot folders: config.json + pytorch_model.bin), WavTokenizer (the authors' Lightning ``.ckpt``, alone or in
a folder with their yaml), Vocos (``config.yaml`` + ``pytorch_model.bin``, paired with an EnCodec checkpoint) and
Mimi (Kyutai's ``tokenizer-*.safetensors`` from the moshi repositories, or HF's ``kyutai/mimi`` snapshot).
``tokkit convert`` writes any of them as a tokkit folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from tokkit.errors import InputError, UnsupportedFormatError

def load_saved(directory: str | os.PathLike, config: dict, *, device: str = "auto"):
    """Registry loader for tokkit folders of a ported codec (config.json "kind": "audio.encodec")."""
    from tokkit.codecs.audio.published.encodec import EncodecConfig, EncodecModel
    from tokkit.codecs.audio.published.tokenizer import PublishedCodecTokenizer

    if config.get("kind") == "audio.encodec_vocos":
        return _load_saved_pair(directory, config, device)
    if config.get("kind") == "audio.wavtokenizer":
        from tokkit.codecs.audio.published.tokenizer import WavTokenizerTokenizer
        from tokkit.codecs.audio.published.wavtokenizer import WavTokenizerConfig, WavTokenizerModel

        return load_port(directory, WavTokenizerModel(WavTokenizerConfig.from_dict(config)), WavTokenizerTokenizer,
                         device=device)
    return load_port(directory, EncodecModel(EncodecConfig.from_dict(config)), PublishedCodecTokenizer, device=device)


def load_checkpoint(path: str | os.PathLike, *, device: str = "auto", encodec: str | os.PathLike | None = None):
    """A published checkpoint file or snapshot folder -> its tokkit port (see :mod:`tokkit.codecs.published`);
    ``encodec`` pairs a Vocos folder with an EnCodec 24 kHz checkpoint (see :func:`load_authors_folder`)."""
    from tokkit.codecs.published import load_checkpoint as load_any

    return load_any(path, device=device, encodec=encodec)


def load_authors_folder(path: Path, device: str, encodec: str | os.PathLike | None = None):
    """What the shared reader leaves to audio: a Vocos folder paired with ``encodec`` (an EnCodec checkpoint:
    the result encodes with EnCodec and decodes with Vocos), or an authors' folder without config.json
    (WavTokenizer's ``.ckpt`` + yaml, Vocos's ``config.yaml`` + weights)."""
    if encodec is not None:
        return _load_pair(path, encodec, device)
    return _load_yaml_folder(path, device)


def load_port(directory: str | os.PathLike, model, tokenizer_class, *, device: str = "auto"):
    """A tokkit folder of a ported codec: ``model`` (built from its config.json) filled from model.safetensors,
    behind ``tokenizer_class``."""
    from tokkit.codecs.published import load_saved_model
    from tokkit.core.device import resolve_device

    device = resolve_device(device)  # a bad device fails before any weights are read
    return tokenizer_class(load_saved_model(model, directory), device=device)


def _load_yaml_folder(folder: Path, device: str):
    """An authors' folder without config.json: WavTokenizer (one ``.ckpt`` + its training yaml) or Vocos
    (``config.yaml`` + ``pytorch_model.bin``)."""
    import yaml

    from tokkit.codecs.audio.published import wavtokenizer
    from tokkit.nn.weights import read_state_dict

    checkpoints = sorted(folder.glob("*.ckpt"))
    configs = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not checkpoints and (folder / "config.yaml").is_file():
        from tokkit.codecs.audio.published.vocos import refuse_alone

        refuse_alone(folder)
    if len(checkpoints) != 1 or len(configs) > 1:
        raise InputError(f"{folder} holds {len(checkpoints)} .ckpt and {len(configs)} yaml files; tokkit reads a "
                         f"folder with one WavTokenizer .ckpt (and at most one yaml), or pass the .ckpt itself")
    hparams = None
    if configs:
        try:
            hparams = yaml.safe_load(configs[0].read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise InputError(f"cannot read {configs[0]}: {str(exc).splitlines()[0]}") from None
    state = read_state_dict(checkpoints[0])
    if not wavtokenizer.looks_like(set(state)):
        raise UnsupportedFormatError(f"{checkpoints[0]}: not a WavTokenizer checkpoint (no feature_extractor.encodec "
                                     f"codebook, backbone.pos_net and head.out tensors)")
    from tokkit.codecs.audio.published.tokenizer import WavTokenizerTokenizer

    model = wavtokenizer.from_reference(state, str(checkpoints[0]), hparams=hparams,
                                        yaml_source=str(configs[0]) if configs else "")
    return WavTokenizerTokenizer(model, device=device)


def _load_pair(vocos_folder: Path, encodec_source: str | os.PathLike, device: str):
    """A Vocos folder (EnCodec variant) + an EnCodec checkpoint -> one tokenizer (EnCodec codes, Vocos audio)."""
    from tokkit.codecs.audio.published.tokenizer import EncodecVocosTokenizer, PublishedCodecTokenizer
    from tokkit.codecs.audio.published.vocos import load_vocos
    from tokkit.core.registry import load

    if not (vocos_folder.is_dir() and (vocos_folder / "config.yaml").is_file()):
        raise InputError(f"encodec= pairs an EnCodec checkpoint with a Vocos folder (config.yaml + weights); "
                         f"{vocos_folder} is not one")
    vocos = load_vocos(vocos_folder)
    if vocos.config.features != "encodec":
        raise InputError(f"{vocos_folder} is Vocos's mel vocoder; only its EnCodec variant decodes EnCodec tokens")
    encodec = load(encodec_source, device="cpu")
    if type(encodec) is not PublishedCodecTokenizer:
        raise InputError(f"{encodec_source} is not an EnCodec checkpoint (it loads as {encodec.kind})")
    return EncodecVocosTokenizer(encodec.model, vocos, device=device)


def _load_saved_pair(directory: str | os.PathLike, config: dict, device: str):
    """A tokkit folder of kind audio.encodec_vocos (written by ``tokkit convert VOCOS --encodec ENCODEC``)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from tokkit.core.device import resolve_device
    from tokkit.nn.weights import WEIGHTS

    device = resolve_device(device)  # a bad device fails before any weights are read
    path = Path(directory) / WEIGHTS
    from tokkit.codecs.audio.published.encodec import EncodecConfig, EncodecModel, load_checked
    from tokkit.codecs.audio.published.tokenizer import EncodecVocosTokenizer
    from tokkit.codecs.audio.published.vocos import VocosConfig, VocosModel

    if not isinstance(config.get("encodec"), dict) or not isinstance(config.get("vocos"), dict):
        raise InputError(f"{path.parent / 'config.json'} lacks its \"encodec\" and \"vocos\" parts")
    try:
        encodec, vocos = EncodecModel(EncodecConfig.from_dict(config["encodec"])), VocosModel(VocosConfig.from_dict(config["vocos"]))
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path.parent / 'config.json'} is not a valid EnCodec + Vocos config: {exc}") from None
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise InputError(f"cannot read the model weights {path}: {exc}") from None
    for prefix, model in (("encodec.", encodec), ("vocos.", vocos)):
        load_checked(model, {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}, str(path))
    unknown = [k for k in state if not k.startswith(("encodec.", "vocos."))]
    if unknown:
        raise InputError(f"{path} has an unexpected tensor {unknown[0]}")
    return EncodecVocosTokenizer(encodec, vocos, device=device)
