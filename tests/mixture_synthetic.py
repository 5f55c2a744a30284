"""Synthetic categories for the mixture tests: Zipf-distributed words over different alphabets, and an
HF byte-level BPE tokenizer trained on a known mixture of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

ALPHABETS = {"ab": "abcdefgh", "cd": "ijklmnop", "ef": "aeiouxyz", "gh": "qrstuvwb"}


def category_text(alphabet: str, n_words: int, seed: int) -> str:
    """Lines of Zipf-distributed random words over ``alphabet`` (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    lexicon = ["".join(rng.choice(list(alphabet), size=rng.integers(2, 9))) for _ in range(400)]
    weights = 1.0 / np.arange(1, len(lexicon) + 1)
    picks = rng.choice(len(lexicon), size=n_words, p=weights / weights.sum())
    return "\n".join(" ".join(lexicon[i] for i in picks[start : start + 12]) for start in range(0, n_words, 12))


def train_tokenizer(texts: list[str], merges: int, path: Path) -> Path:
    """An HF BPE tokenizer with the paper's Digits + ByteLevel pre-tokenizer, trained on ``texts``."""
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
