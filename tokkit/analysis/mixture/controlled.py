"""The tokenizer of the paper's controlled experiments: HF BPE with Digits + ByteLevel pre-tokenization,
trained on a known mixture so that inference can be scored against the truth."""

from __future__ import annotations

from pathlib import Path


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
