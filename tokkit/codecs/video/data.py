"""Training clips: random crops of real videos (stored at the model's frame rate) and synthetic pans and
zooms over photos, as (B, T, 3, S, S) in [-1, 1]; plus the image recipe's photo crops for frame 0."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tokkit.codecs.image.data import PhotoCropSampler
from tokkit.errors import InputError


class ClipSampler:
    """Clips of ``frames`` frames at ``size`` pixels from ``data/videos/*.npy`` (F, H, W, 3) uint8 and the
    photos under ``data/images/train``: a fraction ``real`` from videos, the rest synthetic camera motion, of
    which a fraction ``still`` is a still camera (half of those with a patch of another photo moving across)."""

    def __init__(self, data: str | Path, size: int, frames: int, *, real: float = 0.5, still: float = 0.0,
                 seed: int = 0) -> None:
        data = Path(data)
        files = sorted((data / "videos").glob("*.npy"))
        if not files:
            raise InputError(f"no videos/*.npy under {data}: run scripts/video_data.py first")
        self.videos = [np.load(path) for path in files]
        self.photos = PhotoCropSampler(data / "images" / "train", size, seed=seed)
        self.size, self.frames, self.real, self.still = size, frames, real, still
        self.rng = np.random.default_rng(seed)

    def _resize(self, crops: torch.Tensor) -> torch.Tensor:
        """(T, H, W, 3) uint8 -> (T, 3, size, size) float in [-1, 1]."""
        x = crops.permute(0, 3, 1, 2).float()
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        return x.div(127.5).sub(1.0).clamp(-1, 1)

    def _real_clip(self) -> torch.Tensor:
        rng = self.rng
        video = self.videos[rng.integers(len(self.videos))]
        stride = int(rng.choice([1, 1, 2]))
        span = (self.frames - 1) * stride + 1
        start = rng.integers(max(1, video.shape[0] - span + 1))
        clip = video[start:start + span:stride]
        if clip.shape[0] < self.frames:  # a video shorter than a clip: hold its last frame
            clip = np.concatenate([clip, np.repeat(clip[-1:], self.frames - clip.shape[0], axis=0)])
        side = int(rng.integers(self.size, min(video.shape[1], video.shape[2]) + 1))
        top, left = rng.integers(video.shape[1] - side + 1), rng.integers(video.shape[2] - side + 1)
        crops = torch.from_numpy(np.array(clip[:, top:top + side, left:left + side]))
        if rng.random() < 0.5:
            crops = crops.flip(2)
        return self._resize(crops)

    def _still_clip(self) -> torch.Tensor:
        """A still camera on one photo crop; half the time a patch of another photo (12-32 px) moves across
        it at up to 3 px/frame (a person walking past a fixed camera)."""
        rng = self.rng
        view = self.photos.views[rng.integers(len(self.photos.views))]
        side = int(min(rng.uniform(1.0, 2.0) * self.size, view.shape[0], view.shape[1]))
        top, left = rng.integers(view.shape[0] - side + 1), rng.integers(view.shape[1] - side + 1)
        background = self._resize(torch.from_numpy(np.array(view[top:top + side, left:left + side]))[None])[0]
        frames = background[None].repeat(self.frames, 1, 1, 1)
        if rng.random() < 0.5:
            other = self.photos.views[rng.integers(len(self.photos.views))]
            h, w = (int(v) for v in rng.integers(12, 33, size=2))
            oy, ox = rng.integers(other.shape[0] - h + 1), rng.integers(other.shape[1] - w + 1)
            sprite = torch.from_numpy(np.array(other[oy:oy + h, ox:ox + w])).permute(2, 0, 1).float() / 127.5 - 1
            y, x = rng.uniform(0, self.size - h), rng.uniform(0, self.size - w)
            vy, vx = rng.uniform(-3, 3, size=2)
            for t in range(self.frames):
                py = int(np.clip(round(y + vy * t), 0, self.size - h))
                px = int(np.clip(round(x + vx * t), 0, self.size - w))
                frames[t, :, py:py + h, px:px + w] = sprite
        return frames

    def _synthetic_clip(self) -> torch.Tensor:
        """A camera pan (up to 4 px/frame at model scale) and zoom (up to 5 %/frame) over one photo."""
        rng = self.rng
        if self.still and rng.random() < self.still:
            return self._still_clip()
        view = self.photos.views[rng.integers(len(self.photos.views))]
        height, width = view.shape[:2]
        scale = rng.uniform(1.0, 2.0)  # source pixels per model pixel
        velocity = rng.uniform(-4, 4, size=2) * scale * (rng.random() < 0.85)
        zoom = math.exp(rng.uniform(-0.05, 0.05)) if rng.random() < 0.4 else 1.0
        centre = np.array([height / 2, width / 2]) + rng.uniform(-0.25, 0.25, size=2) * np.array([height, width])
        crops = []
        for t in range(self.frames):
            side = min(self.size * scale * zoom**t, height, width)
            cy, cx = centre + velocity * t
            top = int(np.clip(round(cy - side / 2), 0, height - side))
            left = int(np.clip(round(cx - side / 2), 0, width - side))
            crop = torch.from_numpy(np.array(view[top:top + int(side), left:left + int(side)]))
            crops.append(self._resize(crop[None])[0])
        return torch.stack(crops)

    def batch(self, batch_size: int) -> torch.Tensor:
        """(B, T, 3, size, size) float in [-1, 1]."""
        return torch.stack([self._real_clip() if self.rng.random() < self.real else self._synthetic_clip()
                            for _ in range(batch_size)])
