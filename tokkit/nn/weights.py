"""Save and load any tokkit model as config.json + model.safetensors (float16 on disk).

Floating-point tensors are stored as float16 (half the size, no measurable loss for these codecs)
and restored to the dtype the freshly built model uses; other tensors keep their dtype.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
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


def save_weights_exact(model: torch.nn.Module, directory: str | os.PathLike) -> Path:
    """As :func:`save_weights` but keeping every tensor's dtype (ported checkpoints stay bit-exact)."""
    from safetensors.torch import save

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {name: value.detach().cpu().contiguous() for name, value in model.state_dict().items()}
    atomic_write_bytes(directory / WEIGHTS, save(tensors))
    atomic_write_text(directory / "config.json", json.dumps(model.config.to_dict(), indent=2, sort_keys=True) + "\n")
    return directory


def load_checked(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``model`` (eval mode) after checking names and shapes; the first difference is
    one InputError line naming ``source``. Tensors are cast to the model's dtypes."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        what = f"lacks {missing[0]}" if missing else f"has an unexpected tensor {unexpected[0]}"
        raise InputError(f"{source} does not match the {type(model).__name__} its config describes: it {what} "
                         f"({len(missing)} missing, {len(unexpected)} unexpected)")
    for key, value in expected.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise InputError(f"{source}: {key} has shape {tuple(state[key].shape)}, but the config needs {tuple(value.shape)}")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    model.eval()


def fold_weight_norm(g: torch.Tensor, v: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """The plain weight ``g * v / ||v||`` (norm over every axis but ``dim``) that torch's weight norm computes."""
    return torch._weight_norm(v.float(), g.float(), dim)


_WN_G = re.compile(r"\.(weight_g|parametrizations\.weight\.original0)$")
_WN_V = re.compile(r"\.(weight_v|parametrizations\.weight\.original1)$")


def fold_weight_norm_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict with every weight-normed pair (``weight_g``/``weight_v``, or torch's parametrization
    ``parametrizations.weight.original0``/``original1``) folded into its plain ``.weight`` (dim 0, torch's
    default for both); floating tensors as float32, the rest unchanged. An incomplete pair is an InputError."""
    out: dict[str, torch.Tensor] = {}
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        for pattern, part in ((_WN_G, "g"), (_WN_V, "v")):
            if pattern.search(key):
                pairs.setdefault(pattern.sub(".weight", key), {})[part] = value
                break
        else:
            out[key] = value.float() if value.is_floating_point() else value
    for key, pair in pairs.items():
        if set(pair) != {"g", "v"}:
            raise InputError(f"weight-norm parameters of {key} are incomplete in the checkpoint")
        out[key] = fold_weight_norm(pair["g"], pair["v"])
    return out


def read_state_dict(path: str | os.PathLike, extras: dict[str, object] | None = None) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint file without running code: safetensors directly, pickles only through
    ``torch.load(weights_only=True)`` (zip format; the legacy format is refused), TorchScript archives
    (``.jit``) through the data-only reader of :mod:`tokkit.nn.torchscript`; nested dicts
    (``{"state_dict": ...}``) are flattened with dots. ``extras``, when given, receives the other leaves
    (numbers, strings, lists) under their dotted names.

    Every failure (truncated file, refused pickle, no tensors) is an InputError naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such checkpoint file: {path}")
    with path.open("rb") as handle:
        head = handle.read(16)
    if len(head) < 8:
        raise InputError(f"{path} is too short to be a checkpoint (truncated?)")
    from tokkit.nn.torchscript import is_torchscript, read_torchscript_tensors

    if head[:2] == b"PK" and is_torchscript(path):
        loaded = read_torchscript_tensors(path)  # data only: the archive's TorchScript code is never compiled
    elif head[:1] == b"\x80" and head[8:9] != b"{":  # (a safetensors header length can start with 0x80 too)
        # the pre-2020 (non-zip) torch format: its loader allocates whatever sizes the header claims
        # (a 500-byte file asked for 1.8 GB under fuzzing), so it is not read at all
        raise InputError(f"{path} is a legacy (non-zip) torch pickle, which tokkit does not read: re-save it with a "
                         f"current torch.save, or as safetensors")
    elif head[:2] == b"PK":
        try:
            loaded = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        except Exception as exc:  # noqa: BLE001 - torch raises many types for refused or broken pickles
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "weights_only" in str(exc) or "Unsupported global" in str(exc):
                reason = ("it holds Python objects that a safe load (weights_only=True) refuses; tokkit never "
                          "unpickles code: load it once with its authors' package, save model.state_dict() with "
                          "safetensors.torch.save_file, and give tokkit that .safetensors file")
            raise InputError(f"cannot read the checkpoint {path}: {reason}") from None
    else:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            loaded = load_file(str(path))
        except (OSError, SafetensorError, ValueError) as exc:
            raise InputError(f"cannot read the checkpoint {path}: not a readable safetensors or torch file ({exc})") from None
    tensors: dict[str, torch.Tensor] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, torch.Tensor):
            tensors[prefix] = value
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif extras is not None:
            extras[prefix] = value

    walk("", loaded)
    if not tensors:
        raise InputError(f"{path} holds no tensors: not a model checkpoint")
    return tensors
