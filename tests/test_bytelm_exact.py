"""ByteLM equals the brute-force definition of byte-level probabilities, on three BPE families."""

from __future__ import annotations

import numpy as np
import pytest

from bytelm_support import RandomLM, brute_force_next_byte, make_tokenizer
from tokkit.text.bytelm import ByteLM

PREFIXES = {
    "gpt2": [b"", b"th", b"the ca", b"a  ", b"a \n ", b"they'", b"12", b"a cat th", b"x!", b"a \xc3"],
    "llama3": [b"", b"th", b"the ca", b"a  ", b"a \n ", b"they'", b"4567", b"a cat th", b"a.b", b"th\xe4\xb8"],
    "metaspace": [b"", b"th", b"the", b"a  ", b"they", b"12", b"a ca"],
}


def _close(a: np.ndarray, b: np.ndarray) -> None:
    assert np.array_equal(np.isfinite(a), np.isfinite(b))
    finite = np.isfinite(a)
    np.testing.assert_allclose(a[finite], b[finite], rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.exp(a), np.exp(b), rtol=0, atol=1e-9)


@pytest.mark.parametrize("family", sorted(PREFIXES))
def test_next_byte_equals_brute_force(family):
    tokenizer = make_tokenizer(family)
    eos = tokenizer.vocab_size
    lm = RandomLM(eos + 1, seed=3)
    byte_lm = ByteLM(lm, tokenizer, eos)
    for prefix in PREFIXES[family]:
        exact = byte_lm.next_byte_logprobs(prefix)
        assert exact.shape == (257,)
        assert abs(np.logaddexp.reduce(exact)) < 1e-12
        _close(exact, brute_force_next_byte(tokenizer, lm, eos, prefix))


def test_bos_context_is_used():
    tokenizer = make_tokenizer("gpt2")
    eos = tokenizer.vocab_size
    lm = RandomLM(eos + 1, seed=5)
    with_bos = ByteLM(lm, tokenizer, eos, bos_token_ids=[eos]).next_byte_logprobs(b"the")
    without = ByteLM(lm, tokenizer, eos).next_byte_logprobs(b"the")
    assert np.max(np.abs(np.exp(with_bos) - np.exp(without))) > 1e-3


@pytest.mark.parametrize("family", ["gpt2", "llama3", "metaspace"])
def test_long_prompt_window_matches_full_reencoding(family):
    """Splitting the prompt at a stable pre-token boundary changes nothing (vs. re-encoding it all)."""
    tokenizer = make_tokenizer(family)
    eos = tokenizer.vocab_size
    lm = RandomLM(eos + 1, seed=7)
    windowed = ByteLM(lm, tokenizer, eos)
    full = ByteLM(lm, tokenizer, eos, lookback_pieces=10_000)
    for prefix in [b"the cat sat on the mat. then th", b"hello there  \n  hel", b"isn't it? they'", b"in 2024 and 45"]:
        _close(windowed.next_byte_logprobs(prefix), full.next_byte_logprobs(prefix))


@pytest.mark.parametrize("family", ["gpt2", "llama3"])
def test_stable_boundary_survives_any_continuation(family):
    """Pre-token pieces before the chosen boundary never move, whatever follows (tricky alphabet)."""
    tokenizer = make_tokenizer(family)
    byte_lm = ByteLM(RandomLM(tokenizer.vocab_size + 1), tokenizer, tokenizer.vocab_size)
    rng = np.random.default_rng(0)
    alphabet = [b"a", b"b", b"1", b" ", b"\n", b"'", b".", b"s", b"\xc3", b"\xa9", b"\xe4\xb8"]
    for _ in range(400):
        text = b"".join(rng.choice(alphabet, size=rng.integers(1, 9)))
        _, b = byte_lm._split_points(text)
        pieces, before = tokenizer.pretokenize(text), []
        while sum(map(len, before)) < b:
            before.append(pieces[len(before)])
        for _ in range(5):
            more = b"".join(rng.choice(alphabet, size=rng.integers(1, 4)))
            pieces = tokenizer.pretokenize(text + more)
            assert pieces[: len(before)] == before and sum(map(len, before)) == b
