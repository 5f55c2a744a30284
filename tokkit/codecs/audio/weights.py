"""Save and load a codec as config.json + model.safetensors (float16 on disk, float32 in memory)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from tokkit.codecs.audio.config import CodecConfig
from tokkit.codecs.audio.model import CodecModel
from tokkit.core.atomic import atomic_write_bytes, atomic_write_text
from tokkit.errors import InputError

WEIGHTS = "model.safetensors"


def save_model(model: CodecModel, directory: str | os.PathLike) -> Path:
    """Write ``directory/config.json`` and ``directory/model.safetensors`` atomically."""
    from safetensors.torch import save

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: (v.half() if v.is_floating_point() else v).detach().cpu().contiguous()
               for k, v in model.state_dict().items()}
    atomic_write_bytes(directory / WEIGHTS, save(tensors))
    atomic_write_text(directory / "config.json", json.dumps(model.config.to_dict(), indent=2, sort_keys=True) + "\n")
    return directory


def load_model(directory: str | os.PathLike, config: dict) -> CodecModel:
    """Build the model described by ``config`` and fill it from ``directory/model.safetensors``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    model = CodecModel(CodecConfig.from_dict(config))
    path = Path(directory) / WEIGHTS
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise InputError(f"cannot read the codec weights {path}: {exc}") from None
    expected = model.state_dict()
    if set(state) != set(expected) or any(state[k].shape != expected[k].shape for k in expected):
        raise InputError(f"{path} does not match its config.json (different tensors or shapes)")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    return model.eval()
