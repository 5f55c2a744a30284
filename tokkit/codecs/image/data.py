"""Training data: every photo under a folder, held in memory at several scales, served as random
square crops with random horizontal flips."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tokkit.codecs.image.io import IMAGE_SUFFIXES, read_rgb
from tokkit.errors import InputError

#: shorter side of each stored copy, as multiples of the crop size: whole-image views to fine detail
SCALES = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)


class PhotoCropSampler:
    """Random ``size``-pixel crops of the photos under ``folder``, as (B, 3, size, size) in [-1, 1]."""

    def __init__(self, folder: str | Path, size: int, seed: int = 0) -> None:
        files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {folder}")
        self.size = size
        self.views: list[np.ndarray] = []
        self.photos = 0
        for path in files:
            try:
                image = read_rgb(path)
            except InputError as exc:
                print(f"skipping {path}: {exc}", file=sys.stderr)
                continue
            self.photos += 1
            for scale in SCALES:
                short = round(size * scale)
                if short <= min(image.size):
                    ratio = short / min(image.size)
                    resized = image.resize((max(size, round(image.width * ratio)), max(size, round(image.height * ratio))),
                                           resample=Image.Resampling.LANCZOS, reducing_gap=3.0)
                    self.views.append(np.asarray(resized, dtype=np.uint8))
        if not self.views:
            raise InputError(f"no usable images of at least {size}x{size} pixels under {folder}")
        self.rng = np.random.default_rng(seed)

    def batch(self, batch_size: int) -> torch.Tensor:
        """``batch_size`` random crops (B, 3, size, size), float32 in [-1, 1]."""
        crops = np.empty((batch_size, self.size, self.size, 3), dtype=np.uint8)
        for i in range(batch_size):
            view = self.views[self.rng.integers(len(self.views))]
            top = self.rng.integers(view.shape[0] - self.size + 1)
            left = self.rng.integers(view.shape[1] - self.size + 1)
            crop = view[top:top + self.size, left:left + self.size]
            crops[i] = crop[:, ::-1] if self.rng.random() < 0.5 else crop
        return torch.from_numpy(crops).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)

