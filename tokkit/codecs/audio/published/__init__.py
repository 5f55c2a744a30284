"""Ports of published audio codecs, loaded from the files their authors distribute.

Recognised by content, never by running code (the shared reader and family dispatch of
:mod:`tokkit.codecs.published`). Supported so far: EnCodec 24 kHz (both the ``encodec`` package's
``.th`` and the HF ``facebook/encodec_24khz`` layout). ``tokkit convert`` writes any of them as a
tokkit folder.
"""

from __future__ import annotations

import os


def load_saved(directory: str | os.PathLike, config: dict, *, device: str = "auto"):
    """Registry loader for tokkit folders of a ported codec (config.json "kind": "audio.encodec")."""
    from tokkit.core.device import resolve_device

    device = resolve_device(device)  # a bad device fails before any weights are read
    from tokkit.codecs.audio.published.encodec import EncodecConfig, EncodecModel
    from tokkit.codecs.audio.published.tokenizer import PublishedCodecTokenizer
    from tokkit.codecs.published import load_saved_model

    model = load_saved_model(EncodecModel(EncodecConfig.from_dict(config)), directory)
    return PublishedCodecTokenizer(model, device=device)


def load_checkpoint(path: str | os.PathLike, *, device: str = "auto"):
    """A published checkpoint file or HF snapshot folder -> its tokkit port (see :mod:`tokkit.codecs.published`)."""
    from tokkit.codecs.published import load_checkpoint as load_any

    return load_any(path, device=device)
