"""Ports of published audio codecs, loaded from the files their authors distribute.

Recognised by content, never by running code (the shared reader and family dispatch of
:mod:`tokkit.codecs.published`). Supported so far: EnCodec 24 kHz (both the ``encodec`` package's
``.th`` and the HF ``facebook/encodec_24khz`` layout), DAC 16/24/44.1 kHz (the authors'
``weights_*.pth``), SNAC (the authors' HF snapshot folders: config.json + pytorch_model.bin).
``tokkit convert`` writes any of them as a tokkit folder.
"""

from __future__ import annotations

import os


def load_saved(directory: str | os.PathLike, config: dict, *, device: str = "auto"):
    """Registry loader for tokkit folders of a ported codec (config.json "kind": "audio.encodec")."""
    from tokkit.codecs.audio.published.encodec import EncodecConfig, EncodecModel
    from tokkit.codecs.audio.published.tokenizer import PublishedCodecTokenizer

    return load_port(directory, EncodecModel(EncodecConfig.from_dict(config)), PublishedCodecTokenizer, device=device)


def load_checkpoint(path: str | os.PathLike, *, device: str = "auto"):
    """A published checkpoint file or HF snapshot folder -> its tokkit port (see :mod:`tokkit.codecs.published`)."""
    from tokkit.codecs.published import load_checkpoint as load_any

    return load_any(path, device=device)


def load_port(directory: str | os.PathLike, model, tokenizer_class, *, device: str = "auto"):
    """A tokkit folder of a ported codec: ``model`` (built from its config.json) filled from model.safetensors,
    behind ``tokenizer_class``."""
    from tokkit.codecs.published import load_saved_model
    from tokkit.core.device import resolve_device

    device = resolve_device(device)  # a bad device fails before any weights are read
    return tokenizer_class(load_saved_model(model, directory), device=device)
