"""The tokenizer of the paper's controlled experiments: HF BPE with Digits + ByteLevel pre-tokenization,
trained on a known mixture so that inference can be scored against the truth."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np


def train_mixture_tokenizer(texts: list[str], merges: int, path: Path) -> Path:
    """Train an HF byte-level BPE with ``merges`` merges on ``texts``; save it to ``path`` and return that."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=256 + merges, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.save(str(path))
    return path


def sample_training_forms(
    tables: Sequence[Mapping[str, float]], shares: np.ndarray, total_bytes: int, rng: np.random.Generator
) -> tuple[list[str], np.ndarray]:
    """Training text drawn from written-form tables (form -> expected count, as
    ``frequency.written_forms`` makes them): forms drawn i.i.d. from each table, with probability
    proportional to their counts, until table i has about ``shares[i] * total_bytes`` bytes.

    Returns the drawn forms (each one training sequence, so the trainer's pre-tokens are the forms') and
    the exact byte share of each table in them (the truth an inference is scored against).
    """
    sequences: list[str] = []
    used = np.zeros(len(tables))
    for i, (table, share) in enumerate(zip(tables, shares)):
        forms = list(table)
        p = np.array([table[f] for f in forms], dtype=np.float64)
        p /= p.sum()
        sizes = np.array([len(f.encode("utf-8")) for f in forms])
        picks = rng.choice(len(forms), size=int(share * total_bytes / float(p @ sizes)), p=p)
        sequences.extend(forms[j] for j in picks)
        used[i] = sizes[picks].sum()
    return sequences, used / used.sum()
