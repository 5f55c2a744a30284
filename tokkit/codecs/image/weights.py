"""Save and load the image tokenizer as config.json + model.safetensors (float16 on disk, float32 in memory)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from tokkit.codecs.image.config import ImageCodecConfig
from tokkit.codecs.image.model import ImageCodecModel
from tokkit.core.atomic import atomic_write_bytes, atomic_write_text
from tokkit.errors import InputError

WEIGHTS = "model.safetensors"


def save_model(model: ImageCodecModel, directory: str | os.PathLike) -> Path:
    """Write ``directory/config.json`` and ``directory/model.safetensors`` atomically."""
    from safetensors.torch import save

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(directory / WEIGHTS, save(tensors))
    atomic_write_text(directory / "config.json", json.dumps(model.config.to_dict(), indent=2, sort_keys=True) + "\n")
    return directory


def load_model(directory: str | os.PathLike, config: dict) -> ImageCodecModel:
    """Build the model described by ``config`` and fill it from ``directory/model.safetensors``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    model = ImageCodecModel(ImageCodecConfig.from_dict(config))
    path = Path(directory) / WEIGHTS
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise InputError(f"cannot read the image tokenizer weights {path}: {exc}") from None
    expected = model.state_dict()
    if set(state) != set(expected) or any(state[k].shape != expected[k].shape for k in expected):
        raise InputError(f"{path} does not match its config.json (different tensors or shapes)")
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.eval()
