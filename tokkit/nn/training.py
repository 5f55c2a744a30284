"""What every codec's training loop shares: run options, the wall-time learning-rate schedule,
resumable checkpoints, progress lines and the optimisation loop itself (:func:`fit`).

The learning rate warms up over the first steps, then follows a cosine over the *wall-clock* budget
(``max_minutes``, counted across resumes), so a fixed budget always ends at a low rate.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch

from tokkit.core.atomic import atomic_open
from tokkit.errors import InputError

CHECKPOINT = "checkpoint.pt"


@dataclasses.dataclass
class TrainOptions:
    """Everything about a run that is not the model: data, budget, optimiser, logging.

    Codecs subclass it to add their loss weights and to change defaults.
    """

    data: str
    out: str
    max_minutes: float = 90.0
    batch_size: int = 8
    lr: float = 1e-3
    final_lr_fraction: float = 0.02
    warmup_steps: int = 300
    weight_decay: float = 1e-2
    device: str = "cpu"
    threads: int = 1
    seed: int = 0
    log_every: int = 50
    checkpoint_minutes: float = 5.0


def learning_rate(options: TrainOptions, step: int, elapsed: float) -> float:
    """Linear warm-up, then cosine decay over the wall-time budget down to ``final_lr_fraction``."""
    warm = min(1.0, (step + 1) / options.warmup_steps)
    progress = min(1.0, elapsed / (options.max_minutes * 60.0))
    floor = options.final_lr_fraction
    return options.lr * warm * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set every parameter group's rate to ``lr`` times its ``lr_scale`` (default 1)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomically write the resumable state (plain tensors and numbers only)."""
    with atomic_open(path) as handle:
        torch.save(state, handle)


def load_checkpoint(out: Path) -> dict[str, Any]:
    """The state saved in ``out/checkpoint.pt``, for ``--resume``."""
    path = out / CHECKPOINT
    if not path.is_file():
        raise InputError(f"--resume: no {CHECKPOINT} in {out}")
    return torch.load(path, map_location="cpu", weights_only=True)


def log(message: str) -> None:
    """A progress line on stderr."""
    print(message, file=sys.stderr, flush=True)


def fit(model: torch.nn.Module, optimizer: torch.optim.Optimizer, options: TrainOptions,
        loss_fn: Callable[[float], tuple[torch.Tensor, dict[str, float]]], *, step: int = 0, elapsed: float = 0.0,
        extra_state: Callable[[], dict[str, Any]] = dict) -> Path:
    """Optimise ``loss_fn(lr) -> (loss, metrics)`` until the wall-time budget is spent.

    Logs averaged metrics every ``log_every`` steps, writes ``checkpoint.pt`` (model, optimiser, step,
    elapsed time, config, ``extra_state()``) and exports ``latest/`` every ``checkpoint_minutes``, and
    exports ``final/`` at the end; returns that folder. ``step`` and ``elapsed`` continue a resumed run.
    """
    from tokkit.nn.weights import save_weights

    out = Path(options.out)

    def checkpoint() -> None:
        save_checkpoint(out / CHECKPOINT, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                           "step": step, "elapsed": elapsed, "config": model.config.to_dict(),
                                           **extra_state()})

    model.train()
    budget = options.max_minutes * 60.0
    last_save = last_log = started = time.monotonic()
    base_elapsed = elapsed
    sums: dict[str, float] = {}
    count = 0
    while elapsed < budget:
        lr = learning_rate(options, step, elapsed)
        set_learning_rate(optimizer, lr)
        loss, metrics = loss_fn(lr)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        elapsed = base_elapsed + time.monotonic() - started
        for name, value in metrics.items():
            sums[name] = sums.get(name, 0.0) + value
        count += 1
        if step % options.log_every == 0:
            now = time.monotonic()
            averages = " | ".join(f"{name} {total / count:.4f}" for name, total in sums.items())
            log(f"step {step} | {averages} | lr {lr:.2e} | {count / (now - last_log):.2f} step/s | "
                f"{elapsed / 60:.1f}/{options.max_minutes:g} min")
            sums, count, last_log = {}, 0, now
        if time.monotonic() - last_save > options.checkpoint_minutes * 60.0:
            checkpoint()
            save_weights(model, out / "latest")
            last_save = time.monotonic()
    checkpoint()
    final = save_weights(model.eval(), out / "final")
    log(f"done: {step} steps, {elapsed / 60:.1f} min; model written to {final}")
    return final


@dataclasses.dataclass
class RunStart:
    """Where a run begins: its model config (the checkpoint's when resuming), step, elapsed time, state."""

    config: Any
    step: int
    elapsed: float
    state: dict[str, Any] | None
    device: torch.device


def start_run(options: TrainOptions, config: Any, *, resume: bool) -> RunStart:
    """Set threads and seed, make the run folder, and with ``resume`` read the checkpoint there."""
    torch.set_num_threads(options.threads)
    torch.manual_seed(options.seed)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(options.device)
    if not resume:
        return RunStart(config, 0, 0.0, None, device)
    state = load_checkpoint(out)
    return RunStart(type(config).from_dict(state["config"]), int(state["step"]), float(state["elapsed"]), state, device)


def restore(start: RunStart, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Load a resumed run's model and optimiser state (nothing for a fresh run)."""
    if start.state is None:
        return
    model.load_state_dict(start.state["model"])
    optimizer.load_state_dict(start.state["optimizer"])
    log(f"resumed at step {start.step}, {start.elapsed / 60:.1f} min trained")


def prepare_run(options: TrainOptions, config: Any, build: Callable[[Any], torch.nn.Module], *, resume: bool,
                betas: tuple[float, float] = (0.9, 0.99)) -> tuple[RunStart, torch.nn.Module, torch.optim.Optimizer]:
    """:func:`start_run`, then ``build(config)`` on the run's device, its AdamW optimiser, and :func:`restore`."""
    start = start_run(options, config, resume=resume)
    model = build(start.config).to(start.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, betas=betas, weight_decay=options.weight_decay)
    restore(start, model, optimizer)
    return start, model, optimizer
