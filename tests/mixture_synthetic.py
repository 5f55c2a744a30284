"""Synthetic categories for the mixture tests: Zipf-distributed words over different alphabets."""

from __future__ import annotations

import numpy as np

ALPHABETS = {"ab": "abcdefgh", "cd": "ijklmnop", "ef": "aeiouxyz", "gh": "qrstuvwb"}


def category_text(alphabet: str, n_words: int, seed: int) -> str:
    """Lines of Zipf-distributed random words over ``alphabet`` (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    lexicon = ["".join(rng.choice(list(alphabet), size=rng.integers(2, 9))) for _ in range(400)]
    weights = 1.0 / np.arange(1, len(lexicon) + 1)
    picks = rng.choice(len(lexicon), size=n_words, p=weights / weights.sum())
    return "\n".join(" ".join(lexicon[i] for i in picks[start : start + 12]) for start in range(0, n_words, 12))
