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
import sys
import time
from pathlib import Path

import torch

from tokkit.codecs.image.config import ImageCodecConfig
from tokkit.codecs.image.data import PhotoCropSampler
from tokkit.codecs.image.model import ImageCodecModel
from tokkit.codecs.image.weights import save_model
from tokkit.core.atomic import atomic_open
from tokkit.errors import InputError
from tokkit.quant.truncation import sample_keep_lengths

CHECKPOINT = "checkpoint.pt"


@dataclasses.dataclass
class TrainOptions:
    """Everything about a run that is not the model: data, budget, optimiser, logging."""

    data: str
    out: str
    max_minutes: float = 80.0
    batch_size: int = 16
    lr: float = 1e-3
    final_lr_fraction: float = 0.02
    warmup_steps: int = 200
    weight_decay: float = 1e-4
    l1_weight: float = 1.0
    l2_weight: float = 1.0
    gradient_weight: float = 0.5
    device: str = "cpu"
    threads: int = 1
    seed: int = 0
    log_every: int = 25
    checkpoint_minutes: float = 5.0


def learning_rate(options: TrainOptions, step: int, elapsed: float) -> float:
    """Linear warm-up, then cosine decay over the wall-time budget down to ``final_lr_fraction``."""
    warm = min(1.0, (step + 1) / options.warmup_steps)
    progress = min(1.0, elapsed / (options.max_minutes * 60.0))
    floor = options.final_lr_fraction
    return options.lr * warm * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def image_gradient_l1(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between horizontal and vertical pixel differences: rewards edges a plain L2 blurs away."""
    return sum((predicted.diff(dim=axis) - target.diff(dim=axis)).abs().mean() for axis in (-1, -2))


def save_checkpoint(path: Path, model: ImageCodecModel, optimizer: torch.optim.Optimizer, step: int, elapsed: float) -> None:
    """Atomically write the resumable state (plain tensors and numbers only)."""
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
             "elapsed": elapsed, "config": model.config.to_dict()}
    with atomic_open(path) as handle:
        torch.save(state, handle)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
        if not checkpoint_path.is_file():
            raise InputError(f"--resume: no {CHECKPOINT} in {out}")
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
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
        for group in optimizer.param_groups:
            group["lr"] = lr
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
            save_checkpoint(checkpoint_path, model, optimizer, step, elapsed)
            save_model(model, out / "latest")
            last_save = time.monotonic()
    save_checkpoint(checkpoint_path, model, optimizer, step, elapsed)
    final = save_model(model.eval(), out / "final")
    log(f"done: {step} steps, {elapsed / 60:.1f} min; model written to {final}")
    return final
