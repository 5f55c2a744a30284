"""What every codec's training loop shares: run options, the wall-time learning-rate schedule,
resumable checkpoints and progress lines.

The learning rate warms up over the first steps, then follows a cosine over the *wall-clock* budget
(``max_minutes``, counted across resumes), so a fixed budget always ends at a low rate.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path
from typing import Any

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
    for group in optimizer.param_groups:
        group["lr"] = lr


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
