"""Training loop for the causal video tokenizer (tokkit.nn.training.fit): clips unrolled in time with
the previous reconstruction as context, a kept prefix length drawn per frame (tail-token dropping),
pixel L1 + L2 + image-gradient L1 (the image recipe's loss) + a temporal-difference L1 against
flicker, plus a batch of photos coded as frame 0 so the image case keeps improving.

Warm start: ``init_from`` (a saved image or video model folder) fills the frame model; the temporal
layers start at zero, so step 0 reproduces the image tokenizer exactly.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import torch

from tokkit.codecs.image.train import TrainOptions as ImageTrainOptions
from tokkit.codecs.image.train import image_gradient_l1
from tokkit.codecs.video.config import VideoCodecConfig
from tokkit.codecs.video.data import ClipSampler
from tokkit.codecs.video.model import VideoCodecModel
from tokkit.errors import InputError
from tokkit.nn.training import fit, log, restore, start_run
from tokkit.quant.truncation import sample_keep_lengths


@dataclasses.dataclass
class TrainOptions(ImageTrainOptions):
    """The image run options and loss weights plus clip length, photo batch, the flicker weight and a warm start."""

    max_minutes: float = 60.0
    batch_size: int = 6
    clip_frames: int = 3
    photo_batch: int = 4
    real_fraction: float = 0.5
    lr: float = 4e-4
    warmup_steps: int = 50
    temporal_weight: float = 0.5
    init_from: str | None = None
    clip_keep: float = 0.0  # fraction of clips that keep one prefix length on every frame (as at inference)
    still_fraction: float = 0.0  # of the synthetic clips: a still camera (half with a moving patch)
    burn_in: int = 0  # up to this many frames (uniform 0..burn_in) run without gradients before the trained ones


def reconstruction_loss(out: torch.Tensor, target: torch.Tensor, options: TrainOptions) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, mean squared error) for frames (..., 3, S, S) in [-1, 1]."""
    l2 = (out - target).pow(2).mean()
    loss = options.l1_weight * (out - target).abs().mean() + options.l2_weight * l2
    return loss + options.gradient_weight * image_gradient_l1(out, target), l2


def warm_start_frame(frame: torch.nn.Module, directory: Path) -> None:
    """Fill the per-frame model from a saved image tokenizer; when this model has more latent tokens,
    the extra ones keep their fresh initialisation and start with no direct path to the pixels
    (their column of ``scatter`` is zero), so the first tokens decode as before."""
    from safetensors.torch import load_file

    saved = load_file(str(directory / "model.safetensors"))
    state = frame.state_dict()
    if set(saved) != set(state):
        raise InputError(f"{directory} is not an image tokenizer of this layout")
    for name, value in saved.items():
        target = state[name]
        if value.shape == target.shape:
            target.copy_(value.to(target.dtype))
            continue
        if value.ndim != target.ndim or any(a > b for a, b in zip(value.shape, target.shape)):
            raise InputError(f"{directory}: {name} has shape {tuple(value.shape)}, cannot grow to {tuple(target.shape)}")
        target[tuple(slice(0, n) for n in value.shape)] = value.to(target.dtype)
        if name == "scatter.weight":
            target[:, value.shape[1]:] = 0
    frame.load_state_dict(state)


def warm_start_video(model: VideoCodecModel, directory: Path) -> None:
    """Fill ``model`` from a saved video tokenizer of the same layout; when the P-frame prediction differs
    (gate -> residual), the shared tensors are copied and the residual correction head starts as the
    frame model's patch_out / RESIDUAL_GAIN."""
    from safetensors.torch import load_file

    from tokkit.codecs.video.model import RESIDUAL_GAIN

    saved = load_file(str(directory / "model.safetensors"))
    state = model.state_dict()
    shared = set(saved) & set(state)
    if any(saved[k].shape != state[k].shape for k in shared) or not {k for k in state if k.startswith("frame.")} <= shared:
        raise InputError(f"{directory} is not a video tokenizer of this layout")
    for name in shared:
        state[name].copy_(saved[name].to(state[name].dtype))
    if "correction.weight" in state and "correction.weight" not in saved:
        state["correction.weight"].copy_(state["frame.patch_out.weight"] / RESIDUAL_GAIN)
        state["correction.bias"].copy_(state["frame.patch_out.bias"] / RESIDUAL_GAIN)
    model.load_state_dict(state)


def train(config: VideoCodecConfig, options: TrainOptions, *, resume: bool = False) -> Path:
    """Train (or resume) a video tokenizer; returns the folder of the exported final model."""
    start = start_run(options, config, resume=resume)
    config, step, elapsed, device = start.config, start.step, start.elapsed, start.device
    model = VideoCodecModel(config)
    if start.state is None and options.init_from:
        source = Path(options.init_from)
        kind = json.loads((source / "config.json").read_text()).get("kind")
        if kind == config.kind:
            warm_start_video(model, source)
        else:
            warm_start_frame(model.frame, source)
        log(f"warm start from {source} ({kind})")
    model = model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, betas=(0.9, 0.99), weight_decay=options.weight_decay)
    restore(start, model, optimizer)
    sampler = ClipSampler(options.data, config.image_size, options.clip_frames + options.burn_in, real=options.real_fraction,
                          still=options.still_fraction, seed=options.seed + step)
    log(f"{len(sampler.videos)} videos ({sum(v.shape[0] for v in sampler.videos)} frames), {sampler.photos.photos} "
        f"photos; model {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, "
        f"{config.num_tokens} tokens x {config.bits_per_token} bits per frame")
    generator = torch.Generator().manual_seed(options.seed + step)
    n = config.num_tokens

    def loss_fn(lr: float) -> tuple[torch.Tensor, dict[str, float]]:
        clips = sampler.batch(options.batch_size).to(device)
        batch, frames = clips.shape[:2]
        keep = sample_keep_lengths(n, batch * frames, generator=generator, device=device).view(batch, frames)
        same = torch.rand(batch, generator=generator).to(device) < options.clip_keep
        keep = torch.where(same[:, None], keep[:, :1].expand(batch, frames), keep)
        burn = int(torch.randint(options.burn_in + 1, (1,), generator=generator))
        clips, keep, previous = clips[:, options.burn_in - burn:], keep[:, options.burn_in - burn:], None
        with torch.no_grad():  # a context from deeper in the clip, as at inference after many frames
            for t in range(burn):
                previous = model(clips[:, t], keep[:, t], previous).clamp(-1, 1)
        clips, keep = clips[:, burn:], keep[:, burn:]
        batch, frames = clips.shape[:2]
        out = model.unroll(clips, keep, previous)
        loss, l2 = reconstruction_loss(out, clips, options)
        first_l2 = (out[:, 0] - clips[:, 0]).pow(2).mean()
        later_l2 = (out[:, 1:] - clips[:, 1:]).pow(2).mean()
        flicker = ((out[:, 1:] - out[:, :-1]) - (clips[:, 1:] - clips[:, :-1])).abs().mean()
        loss = loss + options.temporal_weight * flicker
        metrics = {"burn": float(burn), "psnr_i": 10 * math.log10(4.0 / max(first_l2.item(), 1e-10)),
                   "psnr_p": 10 * math.log10(4.0 / max(later_l2.item(), 1e-10)), "flicker": flicker.item()}
        if options.photo_batch:
            photos = sampler.photos.batch(options.photo_batch).to(device)
            keep = sample_keep_lengths(n, options.photo_batch, generator=generator, device=device)
            photo_loss, photo_l2 = reconstruction_loss(model(photos, keep, None), photos, options)
            loss = loss + photo_loss * options.photo_batch / (batch * frames)
            metrics["psnr_photo"] = 10 * math.log10(4.0 / max(photo_l2.item(), 1e-10))
        return loss, metrics

    return fit(model, optimizer, options, loss_fn, step=step, elapsed=elapsed)
