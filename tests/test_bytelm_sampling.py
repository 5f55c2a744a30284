"""ByteLM against a known byte-level truth: naive token conditioning is biased, ByteLM is not;
sampling makes one LM call per byte and reproduces the text distribution; ensembles; bad input."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from bytelm_support import RandomLM, make_tokenizer
from tokkit.errors import InputError
from tokkit.text.bytelm import ByteEnsemble, ByteLM

TEXTS = {"the cat": 0.3, "then": 0.2, "the": 0.15, "this cat": 0.25, "tea": 0.1}


class TextSetLM:
    """The token LM of a finite text distribution: every text is emitted as its own tokenization."""

    def __init__(self, tokenizer, texts: dict[str, float], eos: int) -> None:
        self.encodings = [(tokenizer.encode_ids(t.encode()), p) for t, p in texts.items()]
        self.vocab, self.eos = eos + 1, eos

    def __call__(self, batch):
        out = np.zeros((len(batch), self.vocab))
        for row, context in zip(out, batch):
            for ids, p in self.encodings:
                if ids[: len(context)] == list(context):
                    row[ids[len(context)] if len(ids) > len(context) else self.eos] += p
            row[:] = row / row.sum() if row.sum() else 1.0 / self.vocab
        with np.errstate(divide="ignore"):
            return np.log(out)


def true_next_byte(prefix: bytes) -> np.ndarray:
    p = np.zeros(257)
    for text, weight in TEXTS.items():
        data = text.encode()
        if data.startswith(prefix):
            p[data[len(prefix)] if len(data) > len(prefix) else 256] += weight
    return p / p.sum()


def naive_next_byte(tokenizer, lm, eos: int, prefix: bytes) -> np.ndarray:
    """Condition the token LM on the prompt's own tokens, read the next byte off the next token."""
    row = np.exp(lm([tokenizer.encode_ids(prefix)])[0])
    p = np.zeros(257)
    for token in range(tokenizer.vocab_size):
        data = tokenizer.token_bytes(token)
        if data:
            p[data[0]] += row[token]
    p[256] += row[eos]
    return p / p.sum()


@pytest.mark.parametrize("family", ["gpt2", "llama3", "metaspace"])
def test_exact_recovers_truth_where_naive_is_biased(family):
    tokenizer = make_tokenizer(family)
    eos = tokenizer.vocab_size
    lm = TextSetLM(tokenizer, TEXTS, eos)
    byte_lm = ByteLM(lm, tokenizer, eos)
    worst_naive = 0.0
    for prefix in [b"", b"t", b"th", b"the", b"the c", b"thi", b"te"]:
        truth = true_next_byte(prefix)
        np.testing.assert_allclose(np.exp(byte_lm.next_byte_logprobs(prefix)), truth, atol=1e-12)
        worst_naive = max(worst_naive, np.abs(naive_next_byte(tokenizer, lm, eos, prefix) - truth).sum() / 2)
    assert worst_naive > 0.3  # total-variation distance of the naive answer on some mid-token prompt


def test_sampling_reproduces_text_distribution_with_one_lm_call_per_byte():
    tokenizer = make_tokenizer("gpt2")
    eos = tokenizer.vocab_size
    byte_lm = ByteLM(TextSetLM(tokenizer, TEXTS, eos), tokenizer, eos)
    counts: Counter[bytes] = Counter()
    for seed in range(300):
        before = byte_lm.lm_calls
        out = byte_lm.sample(b"", max_bytes=20, seed=seed)
        assert byte_lm.lm_calls - before <= len(out) + 1
        counts[out] += 1
    assert set(counts) <= {t.encode() for t in TEXTS}
    for text, p in TEXTS.items():
        assert abs(counts[text.encode()] / 300 - p) < 0.08


def test_generation_makes_at_most_one_lm_call_per_byte_on_random_lm():
    tokenizer = make_tokenizer("llama3")
    eos = tokenizer.vocab_size
    byte_lm = ByteLM(RandomLM(eos + 1, seed=2), tokenizer, eos)
    text = b"the ca"
    byte_lm.next_byte_logprobs(text)
    assert byte_lm.lm_calls == 1
    for step in range(12):
        calls = byte_lm.lm_calls
        text += bytes([int(np.argmax(byte_lm.next_byte_logprobs(text)[:256]))])
        assert byte_lm.lm_calls - calls <= 1


def test_greedy_is_deterministic_and_temperature_sharpens():
    tokenizer = make_tokenizer("gpt2")
    eos = tokenizer.vocab_size
    byte_lm = ByteLM(TextSetLM(tokenizer, TEXTS, eos), tokenizer, eos)
    assert byte_lm.greedy(b"th", 10) == b"e cat"
    cold = Counter(byte_lm.sample(b"th", 10, temperature=0.05, seed=s) for s in range(20))
    assert cold == Counter({b"e cat": 20})


def test_ensemble_of_two_tokenizers_averages_and_stays_exact():
    members = []
    for family in ["gpt2", "metaspace"]:
        tokenizer = make_tokenizer(family)
        members.append(ByteLM(TextSetLM(tokenizer, TEXTS, tokenizer.vocab_size), tokenizer, tokenizer.vocab_size))
    ensemble = ByteEnsemble(members, weights=[0.25, 0.75])
    for prefix in [b"", b"th", b"the c"]:
        np.testing.assert_allclose(np.exp(ensemble.next_byte_logprobs(prefix)), true_next_byte(prefix), atol=1e-12)
    random_members = [ByteLM(RandomLM(m.vocab_size + 1, seed=i), m.tokenizer, m.vocab_size) for i, m in enumerate(members)]
    mixed = ByteEnsemble(random_members)
    with np.errstate(divide="ignore"):
        expected = np.log(np.mean([np.exp(m.next_byte_logprobs(b"the")) for m in random_members], axis=0))
    np.testing.assert_allclose(mixed.next_byte_logprobs(b"the"), expected, atol=1e-12)


def test_bad_input_raises_clear_errors():
    tokenizer = make_tokenizer("gpt2")
    eos = tokenizer.vocab_size
    byte_lm = ByteLM(lambda batch: np.zeros((len(batch), 3)), tokenizer, eos)
    with pytest.raises(InputError, match="shape"):
        byte_lm.next_byte_logprobs(b"the")
    ok = ByteLM(RandomLM(eos + 1), tokenizer, eos)
    with pytest.raises(InputError, match="temperature"):
        ok.sample(b"a", 3, temperature=0)
    with pytest.raises(InputError, match="bytes or str"):
        ok.next_byte_logprobs(5)
    with pytest.raises(InputError):
        ByteEnsemble([])


@pytest.mark.parametrize("family", ["gpt2", "metaspace"])
def test_unvalidated_end_is_exact_for_canonical_lm_and_not_for_random_lm(family):
    tokenizer = make_tokenizer(family)
    eos = tokenizer.vocab_size
    fast = ByteLM(TextSetLM(tokenizer, TEXTS, eos), tokenizer, eos, validate_end=False)
    for prefix in [b"", b"th", b"the", b"the c"]:
        np.testing.assert_allclose(np.exp(fast.next_byte_logprobs(prefix)), true_next_byte(prefix), atol=1e-12)
    lm = RandomLM(eos + 1, seed=4)
    exact = ByteLM(lm, tokenizer, eos).next_byte_logprobs(b"a  ")
    approx = ByteLM(lm, tokenizer, eos, validate_end=False).next_byte_logprobs(b"a  ")
    assert np.abs(np.exp(exact) - np.exp(approx)).max() > 1e-3
