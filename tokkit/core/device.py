"""Device choice shared by every torch model: ``auto`` means CUDA when present, else CPU."""

from __future__ import annotations

from tokkit.errors import InputError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str = "auto") -> str:
    """"auto" | "cpu" | "cuda" (or "cuda:N") -> a torch device string; refuse CUDA where there is none."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"--device {device}: no CUDA GPU is available here; use --device cpu or auto")
        return device
    raise InputError(f"unknown device {device!r}; use one of {', '.join(DEVICES)}")
