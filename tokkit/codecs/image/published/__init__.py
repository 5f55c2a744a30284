"""Ports of published image tokenizers, loaded from the files their authors distribute.

Recognised by content, never by running code (the shared reader and family dispatch of
:mod:`tokkit.codecs.published`). Supported so far: the two-stage TiTok tokenizers (S-128, B-64, L-32:
HF ``yucornetto/tokenizer_titok_*_imagenet`` snapshots or ``fun-research/TiTok`` ``tokenizer_titok_*.bin``)
and One-D-Piece (S/B/L-256, HF ``turing-motors/One-D-Piece-*-256``). ``tokkit convert`` writes any of
them as a tokkit folder.
"""

from __future__ import annotations

import os


def load_saved(directory: str | os.PathLike, config: dict, *, device: str = "auto"):
    """Registry loader for converted folders (config.json "kind": "image.published_titok")."""
    from tokkit.core.device import resolve_device

    device = resolve_device(device)  # a bad device fails before any weights are read
    from tokkit.codecs.image.published.titok import TiTokConfig, TiTokModel
    from tokkit.codecs.image.published.tokenizer import PublishedImageTokenizer
    from tokkit.codecs.published import load_saved_model

    model = load_saved_model(TiTokModel(TiTokConfig.from_dict(config)), directory)
    return PublishedImageTokenizer(model, device=device)
