"""Training loop for the shape tokenizer: occupancy BCE at query points (uniform and near the surface),
RVQ commitment, the anchor loss (each kept latent predicts its farthest-point anchor: squared distance, and
its normal: 1 - cosine),
quantizer dropout over the levels and tail-token dropping over the latents.

Each shape keeps all latents half of the time and a prefix of length uniform on 1..M otherwise (the
level-major token order decodes all M latents for any K >= M); the RVQ draws the kept depth per shape.
The shared loop (tokkit.nn.training.fit) gives the wall-time LR schedule, checkpoints and ``--resume``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.nn.functional as F

from tokkit.codecs.shape.config import ShapeCodecConfig
from tokkit.codecs.shape.data import ShapeSampler
from tokkit.codecs.shape.model import ShapeCodecModel
from tokkit.nn.training import TrainOptions as BaseOptions
from tokkit.nn.training import fit, log, prepare_run
from tokkit.nn.weights import load_weights
from tokkit.quant.truncation import prefix_mask, sample_keep_lengths


@dataclasses.dataclass
class TrainOptions(BaseOptions):
    """The shared run options plus the shape batch layout, with shape-sized defaults."""

    max_minutes: float = 60.0
    batch_size: int = 8
    lr: float = 1e-3
    warmup_steps: int = 50
    weight_decay: float = 1e-4
    log_every: int = 25
    queries: int = 1024
    full_latents_fraction: float = 0.5
    refresh_every: int = 500
    anchor_weight: float = 10.0
    normal_weight: float = 0.1
    init_from: str | None = None


def train(config: ShapeCodecConfig, options: TrainOptions, *, resume: bool = False) -> Path:
    """Train (or resume) a shape tokenizer on a cache folder of targets; returns the exported final folder."""
    def build(config: ShapeCodecConfig) -> ShapeCodecModel:
        model = ShapeCodecModel(config)
        if options.init_from and not resume:  # warm start: a saved shape model of the same layout
            load_weights(model, options.init_from)
            log(f"warm start from {options.init_from}")
        return model

    start, model, optimizer = prepare_run(options, config, build, resume=resume)
    config, step, elapsed, device = start.config, start.step, start.elapsed, start.device
    sampler = ShapeSampler(options.data, config.input_points, seed=options.seed + step)
    log(f"{len(sampler)} cached shapes; model {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, "
        f"{config.num_latents} latents x {config.depth} levels x {config.bits_per_token} bits")
    generator = torch.Generator().manual_seed(options.seed + step)
    counter = {"steps": 0}

    def loss_fn(lr: float) -> tuple[torch.Tensor, dict[str, float]]:
        counter["steps"] += 1
        if counter["steps"] % options.refresh_every == 0:
            added = sampler.refresh()
            if added:
                log(f"{added} new cached shapes ({len(sampler)} in all)")
        batch = sampler.batch(options.batch_size, options.queries)
        keep = sample_keep_lengths(config.num_latents, options.batch_size, generator=generator)
        full = torch.rand(options.batch_size, generator=generator) < options.full_latents_fraction
        keep = torch.where(full, config.num_latents, keep).to(device)
        logits, out, field, anchors, anchor_normals = model(batch.points.to(device), batch.normals.to(device),
                                                            batch.queries.to(device), keep)
        target = batch.occupancy.to(device)
        bce = F.binary_cross_entropy_with_logits(logits, target)
        kept = prefix_mask(keep, config.num_latents)
        anchor = (field.anchors - anchors).square().sum(-1)[kept].mean()
        has_normal = kept & (anchor_normals.abs().sum(-1) > 0)
        normal = (1 - (field.normals * anchor_normals).sum(-1))[has_normal].mean() if has_normal.any() else bce.new_zeros(())
        loss = bce + out.losses["commitment"] + options.anchor_weight * anchor + options.normal_weight * normal
        with torch.no_grad():
            predicted = logits > 0
            truth = target > 0.5
            iou = ((predicted & truth).sum() / (predicted | truth).sum().clamp(min=1)).item()
        return loss, {"bce": bce.item(), "commit": out.losses["commitment"].item(), "anchor": anchor.item(), "normal": normal.item(), "iou": iou}

    return fit(model, optimizer, options, loss_fn, step=step, elapsed=elapsed)
