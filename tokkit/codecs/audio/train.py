"""Training loop for the audio codec: multi-resolution mel + STFT losses (optionally a differentiable STOI
term, ``stoi_weight``), AdamW, wall-time LR schedule.

Optional multi-period and multi-resolution discriminators (``discriminators=True``; worth it on a GPU,
too slow for CPU budgets) add least-squares adversarial and feature-matching terms. The learning rate warms up over the first steps, then follows a cosine over the *wall-clock* budget
(``max_minutes``, counted across resumes), so a fixed budget always ends at a low rate. A checkpoint
(model, optimiser, step, elapsed time) and an exported model folder are written every few minutes
and at the end; ``resume`` continues from the checkpoint on CPU or GPU.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from tokkit.codecs.audio.config import CodecConfig
from tokkit.codecs.audio.data import CropSampler
from tokkit.codecs.audio.model import CodecModel
from tokkit.errors import InputError
from tokkit.nn.discriminators import Discriminators, discriminator_loss, generator_losses
from tokkit.nn.losses import IntelligibilityLoss, MultiResolutionMelLoss, MultiResolutionSTFTLoss
from tokkit.nn.training import TrainOptions as BaseOptions
from tokkit.nn.training import fit, log, restore, set_learning_rate, start_run


@dataclasses.dataclass
class TrainOptions(BaseOptions):
    """The shared run options plus the codec's crop length and loss weights."""

    segment_seconds: float = 1.0
    stft_weight: float = 1.0
    stoi_weight: float = 0.0
    discriminators: bool = False
    adversarial_weight: float = 1.0 / 45.0
    feature_weight: float = 2.0 / 45.0
    init_from: str | None = None
    fresh_lr_scale: float = 1.0
    balance: str = "clips"


def warm_start(model: CodecModel, directory: Path) -> list[str]:
    """Fill ``model`` from a saved codec folder wherever names and shapes agree; returns the names left fresh.

    A single-level FSQ quantizer's projections go to level 0 of a residual FSQ, and every further level's
    ``project_out`` starts at zero, so the warm-started model first decodes exactly as the saved one did
    and the extra levels grow from nothing.
    """
    from safetensors.torch import load_file

    path = Path(directory) / "model.safetensors"
    if not path.is_file():
        raise InputError(f"--init-from {directory}: no model.safetensors there")
    saved = load_file(str(path))
    if model.config.quantizer["kind"] == "rfsq":
        saved = {name.replace("quantizer.project_", "quantizer.levels.0.project_"): value for name, value in saved.items()}
    state = model.state_dict()
    loaded = 0
    for name, value in saved.items():
        if name in state and state[name].shape == value.shape:
            state[name] = value.to(state[name].dtype)
            loaded += 1
    if loaded == 0:
        raise InputError(f"--init-from {directory}: no weight of that model fits this codec's layout")
    if model.config.quantizer["kind"] == "rfsq":
        for name in state:
            if ".project_out." in name and not name.startswith("quantizer.levels.0.") and name not in saved:
                state[name] = torch.zeros_like(state[name])
    model.load_state_dict(state)
    return [name for name in state if name not in saved]


@torch.no_grad()
def calibrate_fresh_levels(model: CodecModel, sampler: CropSampler, device: torch.device,
                           crops: int = 64) -> list[float]:
    """Aim residual levels 1.. of a warm-started codec at its encoder's latents on ``crops`` training crops:
    each level's ``project_in`` takes the principal directions of what the levels before it leave, so its
    codes vary from step 0 and its ``project_out`` (kept at zero: the decoder never saw those directions, and
    a fitted map makes 2 and 4 levels decode worse than 1) gets a gradient at once. Level 0 stays as loaded,
    so every prefix still decodes as the saved model. Returns the latent MSE that 1..depth levels reach
    with least-squares outputs (what the levels could add)."""
    latents = torch.cat([model.encoder(sampler.batch(8).to(device)) for _ in range(max(1, crops // 8))])
    errors = model.quantizer.calibrate_levels(latents.reshape(-1, latents.shape[-1]), start=1)
    for fsq in model.quantizer.levels[1:]:
        fsq.project_out.weight.zero_()
        fsq.project_out.bias.zero_()
    return errors


class GAN:
    """The discriminators and their optimiser, stepped once per generator step."""

    def __init__(self, device: torch.device, options: TrainOptions) -> None:
        self.model = Discriminators().to(device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=options.lr, betas=(0.8, 0.99),
                                           weight_decay=options.weight_decay)

    def step(self, real: torch.Tensor, fake: torch.Tensor, lr: float) -> torch.Tensor:
        """One discriminator update on detached fakes; returns its loss."""
        set_learning_rate(self.optimizer, lr)
        loss = discriminator_loss(self.model(real), self.model(fake.detach()))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        return loss

    def generator_terms(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(adversarial, feature-matching) losses for the codec, with gradients into ``fake`` only."""
        with torch.no_grad():
            real_out = self.model(real)
        return generator_losses(real_out, self.model(fake))


def train(config: CodecConfig, options: TrainOptions, *, resume: bool = False) -> Path:
    """Train (or resume) a codec; returns the folder of the exported final model."""
    start = start_run(options, config, resume=resume)
    config, step, elapsed, state, device = start.config, start.step, start.elapsed, start.state, start.device
    model = CodecModel(config).to(device)
    fresh: list[str] = list(state.get("fresh", [])) if state is not None else []
    if state is None and options.init_from:
        fresh = warm_start(model, Path(options.init_from))
        log(f"warm start from {options.init_from}: {len(fresh)} tensors fresh ({', '.join(sorted(fresh)[:6])}...)")
    named = dict(model.named_parameters())
    groups = [{"params": [p for n, p in named.items() if n not in fresh]}]
    if fresh:  # layers the saved model lacked learn at fresh_lr_scale x the rate; the warm-started ones are nudged
        groups.append({"params": [p for n, p in named.items() if n in fresh], "lr_scale": options.fresh_lr_scale})
    optimizer = torch.optim.AdamW(groups, lr=options.lr, betas=(0.8, 0.99), weight_decay=options.weight_decay)
    critic = GAN(device, options) if options.discriminators else None
    restore(start, model, optimizer)
    if critic is not None and state is not None and "discriminators" in state:
        critic.model.load_state_dict(state["discriminators"])
        critic.optimizer.load_state_dict(state["discriminator_optimizer"])
    segment = max(1, round(options.segment_seconds * config.sample_rate / config.hop)) * config.hop
    log(f"loading audio from {options.data} ...")
    sampler = CropSampler(options.data, config.sample_rate, segment, seed=options.seed + step,
                          balance=options.balance)
    log(f"{len(sampler.clips)} clips, {sampler.seconds / 3600:.2f} h; model {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M "
        f"parameters, {config.frame_rate:g} frames/s, {model.bitrate:g} bit/s")
    if state is None and options.init_from and config.quantizer["kind"] == "rfsq":
        errors = calibrate_fresh_levels(model, sampler, device)
        log("fresh residual levels aimed at the warm encoder's latents; latent MSE 1..depth levels could reach: "
            + " ".join(f"{e:.4g}" for e in errors))
    mel_loss = MultiResolutionMelLoss(config.sample_rate).to(device)
    stft_loss = MultiResolutionSTFTLoss().to(device)
    stoi_loss = IntelligibilityLoss(config.sample_rate).to(device) if options.stoi_weight > 0 else None

    def loss_fn(lr: float) -> tuple[torch.Tensor, dict[str, float]]:
        audio = sampler.batch(options.batch_size).to(device)
        reconstruction, quant_losses = model(audio)
        mel = mel_loss(reconstruction, audio)
        stft = stft_loss(reconstruction, audio)
        loss = mel + options.stft_weight * stft + sum(quant_losses.values(), torch.zeros((), device=device))
        metrics = {"mel": mel.item(), "stft": stft.item()}
        if stoi_loss is not None:
            intelligibility = stoi_loss(reconstruction, audio)
            loss = loss + options.stoi_weight * intelligibility
            metrics["stoi"] = 1.0 - intelligibility.item()
        if critic is not None:
            metrics["disc"] = critic.step(audio, reconstruction, lr).item()
            adversarial, matching = critic.generator_terms(audio, reconstruction)
            loss = loss + options.adversarial_weight * adversarial + options.feature_weight * matching
            metrics["adv"] = adversarial.item()
        return loss, metrics

    def critic_state() -> dict:
        if critic is None:
            return {"fresh": fresh}
        return {"fresh": fresh, "discriminators": critic.model.state_dict(), "discriminator_optimizer": critic.optimizer.state_dict()}

    return fit(model, optimizer, options, loss_fn, step=step, elapsed=elapsed, extra_state=critic_state)
