"""``collate``: pad variable-length token items into one batch of tensors for a torch DataLoader."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from tokkit.core.tokens import Tokens
from tokkit.errors import InputError


def _codes_of(item: Any) -> np.ndarray:
    if isinstance(item, Tokens):
        return item.codes
    if isinstance(item, dict):  # a record: flat codes + shape (TokenizeFn output, a shard row)
        codes = np.asarray(item["codes"])
        return codes.reshape([int(n) for n in item["shape"]]) if "shape" in item else codes
    return np.asarray(item)


def collate(items: Sequence[Tokens | np.ndarray | dict], *, pad_id: int = 0) -> dict[str, Any]:
    """Stack items of shape (T,) or (Q, T) into a batch, padding the time axis with ``pad_id``.

    Items: Tokens, integer arrays/tensors, or records with ``codes`` and ``shape``. Returns
    ``codes`` (B, T_max) or (B, Q, T_max) int64, ``lengths`` (B,) int64 and ``attention_mask``
    (B, T_max) bool, True on real positions. Use ``functools.partial(collate, pad_id=...)`` as a
    DataLoader ``collate_fn`` (it pickles, so worker processes can use it).
    """
    import torch

    if not items:
        raise InputError("cannot collate an empty batch")
    arrays = [_codes_of(item) for item in items]
    leading = {array.shape[:-1] for array in arrays}
    if any(array.ndim not in (1, 2) for array in arrays) or len(leading) > 1:
        shapes = sorted({tuple(array.shape[:-1]) + ("T",) for array in arrays}, key=str)
        raise InputError(f"cannot collate items of shapes {shapes}: all must be (T,) or share the same (Q, T) depth Q")
    lengths = torch.tensor([array.shape[-1] for array in arrays], dtype=torch.int64)
    longest = int(lengths.max()) if len(arrays) else 0
    codes = torch.full((len(arrays), *arrays[0].shape[:-1], longest), pad_id, dtype=torch.int64)
    for row, array in enumerate(arrays):
        codes[row, ..., : array.shape[-1]] = torch.as_tensor(np.asarray(array, dtype=np.int64))
    mask = torch.arange(longest).unsqueeze(0) < lengths.unsqueeze(1)
    return {"codes": codes, "lengths": lengths, "attention_mask": mask}
