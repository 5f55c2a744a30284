"""The part every model-backed tokenizer shares: one torch model on one device, its identity, its alphabet."""

from __future__ import annotations

from typing import Any, ClassVar

from tokkit.core.tokenizer import Tokenizer


class ModelTokenizer(Tokenizer):
    """A :class:`Tokenizer` that runs ``model`` (a torch module whose ``config`` has ``codebook_size``).

    Subclasses call ``super().__init__(model, device=device)`` and implement encode, decode and save;
    the identity is the config and the weights as saved (:func:`tokkit.nn.weights.model_fingerprint`).
    """

    uses_device: ClassVar[bool] = True

    def __init__(self, model: Any, *, device: str = "auto") -> None:
        from tokkit.core.device import resolve_device

        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.config = model.config

    def fingerprint(self) -> bytes:
        """The config and the weights as saved (see :func:`tokkit.nn.weights.model_fingerprint`)."""
        from tokkit.nn.weights import model_fingerprint

        return model_fingerprint(self.model)

    @property
    def codebook_size(self) -> int:
        return self.config.codebook_size
