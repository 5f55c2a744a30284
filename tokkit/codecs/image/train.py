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
import time
from pathlib import Path

import torch

from tokkit.codecs.image.config import ImageCodecConfig
from tokkit.codecs.image.data import PhotoCropSampler
from tokkit.codecs.image.model import ImageCodecModel
from tokkit.nn.training import (CHECKPOINT, learning_rate, load_checkpoint, log, save_checkpoint,
                                set_learning_rate)
from tokkit.nn.training import TrainOptions as BaseOptions
from tokkit.nn.weights import save_weights
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
    dx = lambda x: x[..., :, 1:] - x[..., :, :-1]  # noqa: E731
    dy = lambda x: x[..., 1:, :] - x[..., :-1, :]  # noqa: E731
    return (dx(predicted) - dx(target)).abs().mean() + (dy(predicted) - dy(target)).abs().mean()


def checkpoint_state(model: ImageCodecModel, optimizer: torch.optim.Optimizer, step: int, elapsed: float) -> dict:
    """The resumable state: model, optimiser, step and elapsed time."""
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
            "elapsed": elapsed, "config": model.config.to_dict()}


def train(config: ImageCodecConfig, options: TrainOptions, *, resume: bool = False) -> Path:
    """Train (or resume) an image tokenizer; returns the folder of the exported final model."""
    torch.set_num_threads(options.threads)
    torch.manual_seed(options.seed)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(options.device)
    step, elapsed, state = 0, 0.0, None
    checkpoint_path = out / CHECKPOINT
    if resume:
        state = load_checkpoint(out)
        config = ImageCodecConfig.from_dict(state["config"])
        step, elapsed = int(state["step"]), float(state["elapsed"])
    model = ImageCodecModel(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, betas=(0.9, 0.99), weight_decay=options.weight_decay)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        log(f"resumed at step {step}, {elapsed / 60:.1f} min trained")
    log(f"loading photos from {options.data} ...")
    sampler = PhotoCropSampler(options.data, config.image_size, seed=options.seed + step)
    log(f"{sampler.photos} photos, {len(sampler.views)} scaled views; model "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, {config.num_tokens} tokens x "
        f"{config.bits_per_token} bits")
    generator = torch.Generator().manual_seed(options.seed + step)
    model.train()
    budget = options.max_minutes * 60.0
    last_save = last_log = started = time.monotonic()
    base_elapsed = elapsed
    sums = dict.fromkeys(("l1", "l2", "grad", "n"), 0.0)
    while elapsed < budget:
        lr = learning_rate(options, step, elapsed)
        set_learning_rate(optimizer, lr)
        images = sampler.batch(options.batch_size).to(device)
        keep = sample_keep_lengths(config.num_tokens, options.batch_size, generator=generator, device=device)
        reconstruction, _ = model(images, keep)
        l1 = (reconstruction - images).abs().mean()
        l2 = (reconstruction - images).pow(2).mean()
        grad = image_gradient_l1(reconstruction, images)
        loss = options.l1_weight * l1 + options.l2_weight * l2 + options.gradient_weight * grad
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        elapsed = base_elapsed + time.monotonic() - started
        sums["l1"] += l1.item()
        sums["l2"] += l2.item()
        sums["grad"] += grad.item()
        sums["n"] += 1
        if step % options.log_every == 0:
            n, now = sums["n"], time.monotonic()
            psnr = 10 * math.log10(4.0 / max(sums["l2"] / n, 1e-10))
            log(f"step {step} | l1 {sums['l1'] / n:.4f} | l2 {sums['l2'] / n:.4f} (PSNR {psnr:.2f} dB, mixed K) | "
                f"grad {sums['grad'] / n:.4f} | lr {lr:.2e} | {n / (now - last_log):.2f} step/s | "
                f"{elapsed / 60:.1f}/{options.max_minutes:g} min")
            sums, last_log = dict.fromkeys(sums, 0.0), now
        if time.monotonic() - last_save > options.checkpoint_minutes * 60.0:
            save_checkpoint(checkpoint_path, checkpoint_state(model, optimizer, step, elapsed))
            save_weights(model, out / "latest")
            last_save = time.monotonic()
    save_checkpoint(checkpoint_path, checkpoint_state(model, optimizer, step, elapsed))
    final = save_weights(model.eval(), out / "final")
    log(f"done: {step} steps, {elapsed / 60:.1f} min; model written to {final}")
    return final
