"""The inputs of a comparison: one modality for all, each read once, capped, hashed and kept as the
reference every system is scored against (audio at 16 kHz, pictures and frames as uint8 arrays, shapes
in their unit frame)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tokkit.errors import InputError

MODALITIES = ("audio", "image", "video", "shape")
#: frames per second video inputs are read at (the video tokenizers' rate)
VIDEO_FPS = 16.0


@dataclass(frozen=True)
class Limits:
    """Caps that keep a comparison bounded: audio seconds, video frames, the longest picture/frame side."""

    seconds: float = 10.0
    frames: int = 32
    side: int = 256

    def as_dict(self) -> dict[str, float]:
        """The caps, for results.json and cache keys."""
        return {"seconds": self.seconds, "frames": self.frames, "side": self.side}


@dataclass
class Input:
    """One input: its path, modality, content hash (file bytes + caps), the item tokenizers encode, the
    reference systems are scored against, and facts for the report (duration, size, frames...)."""

    path: Path
    modality: str
    sha256: str
    item: Any
    reference: Any
    facts: dict[str, Any] = field(default_factory=dict)
    #: things computed once per input while scoring (e.g. the reference surface of a shape)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        """The file name, shown in the report."""
        return self.path.name


def modality_of(paths: list[Path]) -> str:
    """The one modality all ``paths`` hold; InputError for a missing file, text or mixed modalities."""
    from tokkit.core.formats import input_modality

    if not paths:
        raise InputError("give at least one input file to compare")
    found: dict[str, list[str]] = {}
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path} is not a file; compare takes audio, image, video or 3D files")
        modality = input_modality(path)
        if modality not in MODALITIES:
            raise InputError(f"{path} is {'text' if modality == 'text' else 'not a file tokkit recognizes'}; "
                             f"compare takes audio, image, video or 3D files")
        found.setdefault(modality, []).append(path.name)
    if len(found) > 1:
        parts = "; ".join(f"{m}: {', '.join(names[:3])}" for m, names in found.items())
        raise InputError(f"the inputs mix modalities ({parts}); compare one modality at a time")
    return next(iter(found))


def _file_hash(path: Path, limits: Limits) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    digest.update(repr(sorted(limits.as_dict().items())).encode())
    return digest.hexdigest()[:16]


def _fit_side(image: Any, side: int) -> Any:
    """A Pillow picture reduced (Lanczos) so that its longer side is at most ``side``."""
    from PIL import Image

    if max(image.size) <= side:
        return image
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def read_input(path: Path, modality: str, limits: Limits) -> Input:
    """Read one input file of ``modality`` within ``limits`` (InputError for a file it cannot read)."""
    sha = _file_hash(path, limits)
    if modality == "audio":
        from tokkit.analysis.metrics_audio import EVAL_RATE
        from tokkit.codecs.audio.io import Audio, load_audio, resample

        audio = load_audio(path)
        keep = int(limits.seconds * audio.sample_rate)
        audio = Audio(audio.samples[:keep], audio.sample_rate)
        reference = resample(audio.samples, audio.sample_rate, EVAL_RATE).astype(np.float32)
        return Input(path, modality, sha, audio, reference,
                     {"duration": audio.duration, "sample_rate": audio.sample_rate})
    if modality == "image":
        from tokkit.codecs.image.io import read_rgb

        picture = _fit_side(read_rgb(path), limits.side)
        array = np.asarray(picture.convert("RGB"))
        return Input(path, modality, sha, picture, array, {"width": picture.width, "height": picture.height})
    if modality == "video":
        from PIL import Image

        from tokkit.codecs.video.io import read_frames

        frames = []
        for frame in read_frames(path, VIDEO_FPS):
            frames.append(np.asarray(_fit_side(Image.fromarray(frame), limits.side)))
            if len(frames) >= limits.frames:
                break
        if not frames:
            raise InputError(f"{path} has no frames")
        clip = np.stack(frames)
        return Input(path, modality, sha, clip, clip, {"frames": len(clip), "width": clip.shape[2],
                                                       "height": clip.shape[1], "fps": VIDEO_FPS})
    from tokkit.codecs.shape.io import normalise, read_shape

    unit, _ = normalise(read_shape(path))
    facts = {"vertices": int(len(unit.vertices)), "faces": int(len(unit.faces))}
    return Input(path, modality, sha, unit, unit, facts)


def read_inputs(paths: list[str | os.PathLike], limits: Limits) -> tuple[str, list[Input]]:
    """(modality, inputs) for the files of one modality; InputError otherwise."""
    resolved = [Path(p) for p in paths]
    modality = modality_of(resolved)
    names = [p.name for p in resolved]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"two inputs share the name {duplicates[0]}; give each input a distinct file name")
    return modality, [read_input(path, modality, limits) for path in resolved]
