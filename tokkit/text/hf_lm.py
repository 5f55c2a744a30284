"""A transformers causal LM as the ``lm`` callable of :class:`tokkit.text.ByteLM` (optional extra)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tokkit.errors import InputError


class HFCausalLM:
    """Next-token log-probabilities (float64, shape [batch, vocab]) from a transformers causal LM.

    Contexts are right-padded into batches of at most ``max_batch``; the row for each context is read
    at its own last position, so padding never changes the answer.
    """

    def __init__(self, model: Any, *, device: str | None = None, max_batch: int = 64) -> None:
        import torch

        if max_batch < 1:
            raise InputError(f"max_batch must be >= 1, got {max_batch}")
        self.model = model.eval()
        self.device = torch.device(device) if device else next(model.parameters()).device
        self.model.to(self.device)
        self.max_batch = max_batch

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **options: Any) -> "HFCausalLM":
        """Load a local transformers checkpoint folder (``AutoModelForCausalLM``)."""
        try:
            from transformers import AutoModelForCausalLM
        except ImportError:
            raise InputError("the transformers adapter needs the optional extra: pip install 'tokkit[hf]'") from None
        return cls(AutoModelForCausalLM.from_pretrained(os.fspath(path)), **options)

    def __call__(self, batch: list[list[int]]) -> np.ndarray:
        import torch

        if any(len(context) == 0 for context in batch):
            raise InputError("a transformers LM cannot read an empty context; give ByteLM bos_token_ids=[...]")
        out = []
        with torch.inference_mode():
            for start in range(0, len(batch), self.max_batch):
                chunk = batch[start:start + self.max_batch]
                lengths = torch.tensor([len(c) for c in chunk], device=self.device)
                ids = torch.zeros(len(chunk), int(lengths.max()), dtype=torch.long, device=self.device)
                for row, context in enumerate(chunk):
                    ids[row, : len(context)] = torch.tensor(context, dtype=torch.long)
                mask = (torch.arange(ids.shape[1], device=self.device)[None] < lengths[:, None]).long()
                logits = self.model(input_ids=ids, attention_mask=mask).logits
                last = logits[torch.arange(len(chunk), device=self.device), lengths - 1]
                out.append(torch.log_softmax(last.double(), dim=-1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0))
