"""Save and load any tokkit model as config.json + model.safetensors (float16 on disk).

Floating-point tensors are stored as float16 (half the size, no measurable loss for these codecs)
and restored to the dtype the freshly built model uses; other tensors keep their dtype.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TypeVar

import torch

from tokkit.core.atomic import atomic_write_bytes, atomic_write_text
from tokkit.core.tokenizer import canonical_json
from tokkit.errors import InputError

WEIGHTS = "model.safetensors"
ModelT = TypeVar("ModelT", bound=torch.nn.Module)


def stored_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict as written to disk: floating-point tensors as float16, others as they are (on CPU)."""
    return {name: (value.half() if value.is_floating_point() else value).detach().cpu().contiguous()
            for name, value in model.state_dict().items()}


def model_fingerprint(model: torch.nn.Module) -> bytes:
    """sha256 of a model's config (canonical JSON) and of its tensors as saved: equal for a model and its
    saved-and-reloaded copy, whatever device or dtype it runs in."""
    digest = hashlib.sha256(canonical_json(model.config.to_dict()))
    for name, tensor in sorted(stored_tensors(model).items()):
        digest.update(name.encode())
        digest.update(tensor.numpy().tobytes())
    return digest.digest()


def save_weights(model: torch.nn.Module, directory: str | os.PathLike) -> Path:
    """Write ``directory/config.json`` (``model.config.to_dict()``) and ``directory/model.safetensors`` atomically."""
    from safetensors.torch import save

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(directory / WEIGHTS, save(stored_tensors(model)))
    atomic_write_text(directory / "config.json", json.dumps(model.config.to_dict(), indent=2, sort_keys=True) + "\n")
    return directory


def load_weights(model: ModelT, directory: str | os.PathLike) -> ModelT:
    """Fill a freshly built ``model`` from ``directory/model.safetensors``; returns it in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(directory) / WEIGHTS
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise InputError(f"cannot read the model weights {path}: {exc}") from None
    expected = model.state_dict()
    if set(state) != set(expected) or any(state[k].shape != expected[k].shape for k in expected):
        raise InputError(f"{path} does not match its config.json (different tensors or shapes)")
    model.load_state_dict({name: value.to(expected[name].dtype) for name, value in state.items()})
    return model.eval()
