"""Ports of published audio codecs, loaded from the files their authors distribute.

Recognised by content, never by running code: a safetensors file, a torch pickle read with
``torch.load(weights_only=True)``, or a HF snapshot folder (config.json + model.safetensors or
pytorch_model.bin). Supported so far: EnCodec 24 kHz (both the ``encodec`` package's ``.th`` and the
HF ``facebook/encodec_24khz`` layout), DAC 16/24/44.1 kHz (the authors' ``weights_*.pth``), SNAC (the authors' HF
snapshot folders: config.json + pytorch_model.bin). ``tokkit convert`` writes any of them as a tokkit folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tokkit.errors import InputError, UnsupportedFormatError

#: checkpoint files tried in a HF snapshot folder, in order
SNAPSHOT_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
#: suffixes of single checkpoint files
CHECKPOINT_SUFFIXES = (".th", ".pth", ".pt", ".ckpt", ".bin", ".safetensors")


def load_saved(directory: str | os.PathLike, config: dict, *, device: str = "auto"):
    """Registry loader for tokkit folders of a ported codec (config.json "kind": "audio.encodec")."""
    from tokkit.codecs.audio.published.encodec import EncodecConfig, EncodecModel
    from tokkit.codecs.audio.published.tokenizer import PublishedCodecTokenizer

    return load_port(directory, EncodecModel(EncodecConfig.from_dict(config)), PublishedCodecTokenizer, device=device)


def load_checkpoint(path: str | os.PathLike, *, device: str = "auto"):
    """A published codec's checkpoint file or HF snapshot folder -> its tokkit port (no code is run)."""
    from tokkit.core.device import resolve_device

    device = resolve_device(device)
    from tokkit.codecs.audio.published import encodec
    from tokkit.codecs.audio.published.tokenizer import PublishedCodecTokenizer
    from tokkit.nn.weights import read_state_dict

    path = Path(path)
    hf_config = None
    if path.is_dir():
        hf_config = _read_json(path / "config.json")
        weights = next((path / name for name in SNAPSHOT_WEIGHTS if (path / name).is_file()), None)
        if weights is None:
            raise InputError(f"{path} has a config.json but none of {', '.join(SNAPSHOT_WEIGHTS)}")
        model_type = hf_config.get("model_type")
        if model_type not in (None, "encodec"):
            raise UnsupportedFormatError(f"{path}: model_type {model_type!r} is not a codec tokkit can load "
                                         f"(supported: encodec)")
    else:
        weights = path
    extras: dict = {}
    state = read_state_dict(weights, extras)
    if encodec.looks_like(set(state)):
        model = encodec.from_reference(state, str(weights), hf_config=hf_config)
        return PublishedCodecTokenizer(model, device=device)
    from tokkit.codecs.audio.published import dac, snac

    if snac.looks_like(set(state), hf_config):
        from tokkit.codecs.audio.published.windowed import SNACTokenizer

        return SNACTokenizer(snac.from_reference(state, str(weights), hf_config=hf_config), device=device)
    if dac.looks_like(set(state)):
        from tokkit.codecs.audio.published.windowed import DACTokenizer

        return DACTokenizer(dac.from_reference(state, str(weights), extras=extras), device=device)
    sample = ", ".join(sorted(state)[:3])
    raise UnsupportedFormatError(f"{weights}: unknown checkpoint layout (first tensors: {sample}); "
                                 f"tokkit loads EnCodec 24 kHz, DAC and SNAC checkpoints and its own folders")


def load_port(directory: str | os.PathLike, model, tokenizer_class, *, device: str = "auto"):
    """A tokkit folder of a ported codec: ``model`` (built from its config.json) filled from model.safetensors,
    behind ``tokenizer_class``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from tokkit.codecs.audio.published.encodec import load_checked
    from tokkit.core.device import resolve_device
    from tokkit.nn.weights import WEIGHTS

    device = resolve_device(device)  # a bad device fails before any weights are read
    path = Path(directory) / WEIGHTS
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise InputError(f"cannot read the model weights {path}: {exc}") from None
    load_checked(model, state, str(path))
    return tokenizer_class(model, device=device)


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if not isinstance(value, dict):
        raise InputError(f"{path} is not a JSON object")
    return value
