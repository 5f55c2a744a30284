"""The video training sampler on a tiny data folder: clip shapes and range, still-camera clips."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from tokkit.codecs.video.data import ClipSampler
from video_helpers import clip


def _data(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "images" / "train").mkdir(parents=True)
    np.save(tmp_path / "videos" / "pan.npy", clip(10, 40, 48))
    for i in range(2):
        Image.fromarray(clip(1, 80, 90, seed=i)[0]).save(tmp_path / "images" / "train" / f"{i}.png")
    return tmp_path


def test_clips_have_the_asked_shape_and_range(tmp_path) -> None:
    sampler = ClipSampler(_data(tmp_path), 16, 5, seed=0)
    batch = sampler.batch(6)
    assert batch.shape == (6, 5, 3, 16, 16) and batch.min() >= -1 and batch.max() <= 1


def test_still_camera_clips_keep_the_background_and_move_a_patch(tmp_path) -> None:
    data = _data(tmp_path)
    sampler = ClipSampler(data, 32, 6, real=0.0, still=1.0, seed=3)
    batch = sampler.batch(12)
    changed = (batch[:, 1:] != batch[:, :-1]).flatten(2).any(-1)  # (B, T-1): did a pixel change
    static = ~changed.any(1)
    assert static.any() and not static.all()  # some clips fully still, some with a moving patch
    moving = batch[~static]
    # a moving patch covers at most 32 x 32 of the 32 x 32 frame; far fewer pixels change than in a pan
    fraction = (moving[:, 1:] != moving[:, :-1]).any(2).float().mean()
    assert 0 < fraction < 0.9
    assert torch.equal(ClipSampler(data, 16, 3, seed=1).batch(2),
                       ClipSampler(data, 16, 3, seed=1, still=0.0).batch(2))  # default unchanged
