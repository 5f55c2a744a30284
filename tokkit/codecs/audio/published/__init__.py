"""Ports of published audio codecs, loaded from the files their authors distribute.

Recognised by content, never by running code: a safetensors file, a torch pickle read with
``torch.load(weights_only=True)``, or a HF snapshot folder (config.json + model.safetensors or
pytorch_model.bin). Supported so far: EnCodec 24 kHz (both the ``encodec`` package's ``.th`` and the
HF ``facebook/encodec_24khz`` layout). ``tokkit convert`` writes any of them as a tokkit folder.
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
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from tokkit.core.device import resolve_device

    device = resolve_device(device)  # a bad device fails before any weights are read
    from tokkit.codecs.audio.published.encodec import EncodecConfig, EncodecModel, load_checked
    from tokkit.codecs.audio.published.tokenizer import PublishedCodecTokenizer
    from tokkit.nn.weights import WEIGHTS

    path = Path(directory) / WEIGHTS
    model = EncodecModel(EncodecConfig.from_dict(config))
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise InputError(f"cannot read the model weights {path}: {exc}") from None
    load_checked(model, state, str(path))
    return PublishedCodecTokenizer(model, device=device)


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
    state = read_state_dict(weights)
    if encodec.looks_like(set(state)):
        model = encodec.from_reference(state, str(weights), hf_config=hf_config)
        return PublishedCodecTokenizer(model, device=device)
    sample = ", ".join(sorted(state)[:3])
    raise UnsupportedFormatError(f"{weights}: unknown checkpoint layout (first tensors: {sample}); "
                                 f"tokkit loads EnCodec 24 kHz checkpoints and its own folders")


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if not isinstance(value, dict):
        raise InputError(f"{path} is not a JSON object")
    return value
