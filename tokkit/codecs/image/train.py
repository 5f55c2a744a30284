"""Training loop for the image tokenizer: pixel L1 + L2 (+ image-gradient L1), tail-token dropping
with the kept prefix length drawn uniformly on 1..N per sample, AdamW, wall-time LR schedule.

The learning rate warms up over the first steps, then follows a cosine over the *wall-clock* budget
(``max_minutes``, counted across resumes), so a fixed budget always ends at a low rate. A checkpoint
(model, optimiser, step, elapsed time) and an exported model folder (``latest/``) are written every few
minutes, and ``final/`` at the end; ``resume`` continues from the checkpoint.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch

from tokkit.codecs.image.config import ImageCodecConfig
from tokkit.codecs.image.data import PhotoCropSampler
from tokkit.codecs.image.model import ImageCodecModel
from tokkit.nn.training import TrainOptions as BaseOptions
from tokkit.nn.training import fit, log, prepare_run
from tokkit.quant.truncation import sample_keep_lengths


@dataclasses.dataclass
class TrainOptions(BaseOptions):
    """The shared run options plus the image loss weights, with image-sized defaults."""

    max_minutes: float = 80.0
    batch_size: int = 16
    warmup_steps: int = 200
    weight_decay: float = 1e-4
    log_every: int = 25
    l1_weight: float = 1.0
    l2_weight: float = 1.0
    gradient_weight: float = 0.5


def image_gradient_l1(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between horizontal and vertical pixel differences: rewards edges a plain L2 blurs away."""
    return sum((predicted.diff(dim=axis) - target.diff(dim=axis)).abs().mean() for axis in (-1, -2))


def train(config: ImageCodecConfig, options: TrainOptions, *, resume: bool = False) -> Path:
    """Train (or resume) an image tokenizer; returns the folder of the exported final model."""
    start, model, optimizer = prepare_run(options, config, ImageCodecModel, resume=resume)
    config, step, elapsed, device = start.config, start.step, start.elapsed, start.device
    log(f"loading photos from {options.data} ...")
    sampler = PhotoCropSampler(options.data, config.image_size, seed=options.seed + step)
    log(f"{sampler.photos} photos, {len(sampler.views)} scaled views; model "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, {config.num_tokens} tokens x "
        f"{config.bits_per_token} bits")
    generator = torch.Generator().manual_seed(options.seed + step)

    def loss_fn(lr: float) -> tuple[torch.Tensor, dict[str, float]]:
        images = sampler.batch(options.batch_size).to(device)
        keep = sample_keep_lengths(config.num_tokens, options.batch_size, generator=generator, device=device)
        reconstruction, _ = model(images, keep)
        l1 = (reconstruction - images).abs().mean()
        l2 = (reconstruction - images).pow(2).mean()
        grad = image_gradient_l1(reconstruction, images)
        loss = options.l1_weight * l1 + options.l2_weight * l2 + options.gradient_weight * grad
        psnr = 10 * math.log10(4.0 / max(l2.item(), 1e-10))  # pixels in [-1, 1]: peak-to-peak 2
        return loss, {"l1": l1.item(), "l2": l2.item(), "grad": grad.item(), "psnr_mixed_k": psnr}

    return fit(model, optimizer, options, loss_fn, step=step, elapsed=elapsed)
