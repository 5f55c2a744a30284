"""Gradient estimators through a quantizer: the forward value is the code, the backward is chosen.

``straight_through``: identity gradient (van den Oord et al. 2017).
``rotation_trick``: the code is produced as a frozen rotation-and-rescale of the input, so the
gradient is rotated with it (Fifty et al. 2024, "Restructuring Vector Quantization with the
Rotation Trick"); it preserves the angle between the gradient and the input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

GradientEstimator = Literal["ste", "rotation"]


def straight_through(x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """Value ``code``, gradient of identity w.r.t. ``x``."""
    return x + (code - x).detach()


def rotation_trick(x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """Value ``code`` (..., d); gradient flows to ``x`` through ``scale * R``, with R (frozen) the
    rotation taking x's direction to code's in the plane they span, scale = |code| / |x|.

    With unit u = x/|x|, v = code/|code| and w = (u + v)/|u + v|: R e = e - 2 (e.w) w + 2 (e.u) v.
    """
    import torch

    tiny = torch.finfo(x.dtype).tiny
    x_norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True).detach()
    code_norm = torch.linalg.vector_norm(code, dim=-1, keepdim=True).detach()
    u = (x.detach() / x_norm.clamp_min(tiny))
    v = (code.detach() / code_norm.clamp_min(tiny))
    w = u + v
    w = w / torch.linalg.vector_norm(w, dim=-1, keepdim=True).clamp_min(tiny)
    rotated = x - 2 * (x * w).sum(-1, keepdim=True) * w + 2 * (x * u).sum(-1, keepdim=True) * v
    rotated = rotated * (code_norm / x_norm.clamp_min(tiny))
    # The algebra gives exactly ``code``; remove the float residue so the forward value is the code.
    return rotated + (code - rotated).detach()


def apply_estimator(x: torch.Tensor, code: torch.Tensor, estimator: GradientEstimator) -> torch.Tensor:
    """Dispatch on the estimator's name."""
    if estimator == "ste":
        return straight_through(x, code)
    if estimator == "rotation":
        return rotation_trick(x, code)
    raise ValueError(f"gradient estimator must be 'ste' or 'rotation', got {estimator!r}")
