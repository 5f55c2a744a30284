"""Published checkpoints of every modality: found by content, read without running code, hashed alike.

A published file or folder is read once (:func:`read_checkpoint`: a HF snapshot folder's config.json
plus ``model.safetensors`` / ``pytorch_model.bin``, or a single ``.th``/``.pth``/``.pt``/``.ckpt``/
``.bin``/``.safetensors`` file, or a TorchScript ``.jit`` archive read as data, through
:func:`tokkit.nn.weights.read_state_dict`), then offered to each
family in :data:`FAMILIES` in turn; the first whose ``looks_like`` accepts the tensors builds its port.
A family module exposes ``LABEL`` (what it is, for messages), ``looks_like(keys, hf_config) -> bool``
and ``load(checkpoint, device) -> Tokenizer``. :class:`PublishedWeights` gives every port the same
identity rule (numeric config + float32 weights) and the same exact ``save`` used by ``tokkit convert``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tokkit.errors import InputError, UnsupportedFormatError

if TYPE_CHECKING:
    import torch

#: checkpoint files tried in a HF snapshot folder, in order
SNAPSHOT_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
#: family modules tried in order (imported only when a checkpoint is read)
FAMILIES: tuple[str, ...] = (
    "tokkit.codecs.audio.published.wavtokenizer",
    "tokkit.codecs.audio.published.encodec",
    "tokkit.codecs.audio.published.snac",  # before DAC: SNAC is DAC's layout plus noise blocks
    "tokkit.codecs.audio.published.dac",
    "tokkit.codecs.audio.published.mimi",
    "tokkit.codecs.image.published.titok",
    "tokkit.codecs.image.published.cosmos",
)


@dataclass
class Checkpoint:
    """The tensors of a published checkpoint, the file they came from, its folder's config.json (or None)
    and the file's other leaves (numbers, strings: e.g. DAC's ``metadata.kwargs``) by dotted name."""

    state: dict[str, torch.Tensor]
    weights: Path
    hf_config: dict[str, Any] | None
    extras: dict[str, Any]


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """A checkpoint file or snapshot folder -> its tensors (no code is run); one InputError line otherwise."""
    from tokkit.nn.weights import read_state_dict

    path = Path(path)
    hf_config = None
    if path.is_dir():
        if (path / "config.json").is_file():
            hf_config = read_json(path / "config.json")
        weights = next((path / name for name in SNAPSHOT_WEIGHTS if (path / name).is_file()), None)
        if weights is None:
            raise InputError(f"{path} holds none of {', '.join(SNAPSHOT_WEIGHTS)}: not a checkpoint folder")
    else:
        weights = path
    extras: dict[str, Any] = {}
    state = read_state_dict(weights, extras)
    return Checkpoint(state, weights, hf_config, extras)


def load_checkpoint(path: str | os.PathLike, *, device: str = "auto", encodec: str | os.PathLike | None = None):
    """A published checkpoint file or snapshot folder -> the tokkit port of its family (no code is run).

    ``encodec`` (a Vocos folder of the EnCodec-token variant + this EnCodec checkpoint) and the authors'
    folders without config.json but with their yaml or ``.ckpt`` (WavTokenizer, Vocos) are read by
    :func:`tokkit.codecs.audio.published.load_authors_folder`."""
    from tokkit.core.device import resolve_device

    device = resolve_device(device)  # a bad device fails before any weights are read
    path = Path(path)
    if encodec is None and path.is_dir() and any(path.glob("*.jit")):
        from tokkit.codecs.image.published.cosmos import load_release

        return load_release(path, device)  # NVIDIA Cosmos: the authors' TorchScript files, read as data
    if encodec is not None or (path.is_dir() and not (path / "config.json").is_file()
                               and ((path / "config.yaml").is_file() or any(path.glob("*.ckpt")))):
        from tokkit.codecs.audio.published import load_authors_folder

        return load_authors_folder(path, device, encodec)
    checkpoint = read_checkpoint(path)
    families = [importlib.import_module(name) for name in FAMILIES]
    keys = set(checkpoint.state)
    for family in families:
        if family.looks_like(keys, checkpoint.hf_config):
            return family.load(checkpoint, device)
    sample = ", ".join(sorted(keys)[:3])
    known = ", ".join(family.LABEL for family in families)
    raise UnsupportedFormatError(f"{checkpoint.weights}: unknown checkpoint layout (first tensors: {sample}); "
                                 f"tokkit loads {known} checkpoints and its own folders")


def load_saved_model(model: torch.nn.Module, directory: str | os.PathLike) -> torch.nn.Module:
    """Fill a port built from a converted folder's config.json with its ``model.safetensors`` (names and
    shapes checked, one line naming the file otherwise); returns it in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from tokkit.nn.weights import WEIGHTS, load_checked

    path = Path(directory) / WEIGHTS
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise InputError(f"cannot read the model weights {path}: {exc}") from None
    load_checked(model, state, str(path))
    return model


def read_json(path: Path) -> dict:
    """A JSON object from ``path``, or one InputError line naming it."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if not isinstance(value, dict):
        raise InputError(f"{path} is not a JSON object")
    return value


class PublishedWeights:
    """Mixin for the tokenizers of ported checkpoints (put it before the ModelTokenizer base).

    Identity: the config fields that shape the numbers (``label_fields`` left out) plus every weight in
    float32, so the authors' file, their HF snapshot and the converted folder hash alike. ``save`` keeps
    every tensor's dtype (a converted folder is bit-exact).
    """

    label_fields: ClassVar[tuple[str, ...]] = ("name",)
    model: Any
    config: Any

    def fingerprint(self) -> bytes:
        """sha256 of the numeric config (canonical JSON) and of every weight as float32."""
        from tokkit.core.tokenizer import canonical_json

        numeric = {k: v for k, v in self.config.to_dict().items() if k not in self.label_fields}
        digest = hashlib.sha256(canonical_json(numeric))
        for name, tensor in sorted(self.model.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
        return digest.digest()

    def save(self, directory: str | os.PathLike) -> Path:
        """config.json + model.safetensors with every tensor's own dtype (the same identity hash as the source)."""
        from tokkit.nn.weights import save_weights_exact

        return save_weights_exact(self.model, directory)
