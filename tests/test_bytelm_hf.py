"""The transformers adapter: padding-independent rows, and ByteLM stays exact on top of it."""

from __future__ import annotations

import numpy as np
import pytest

from bytelm_support import brute_force_next_byte, make_tokenizer
from tokkit.errors import InputError
from tokkit.text.bytelm import ByteLM

import torch  # noqa: E402
import transformers  # noqa: E402  (the [test] extra installs it: missing must fail, not skip)

from tokkit.text.hf_lm import HFCausalLM  # noqa: E402


def _tiny_gpt2(vocab: int):
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=vocab, n_positions=64, n_embd=16, n_layer=1, n_head=2)
    return transformers.GPT2LMHeadModel(config)


def test_rows_do_not_depend_on_batching():
    model = _tiny_gpt2(50)
    lm = HFCausalLM(model, max_batch=2)
    contexts = [[1], [4, 5, 6, 7], [9, 9], [3, 2, 1]]
    batched = lm(contexts)
    assert batched.shape == (4, 50) and batched.dtype == np.float64
    for row, context in zip(batched, contexts):
        with torch.inference_mode():
            direct = torch.log_softmax(model(torch.tensor([context])).logits[0, -1].double(), -1).numpy()
        np.testing.assert_allclose(row, direct, atol=1e-5)
    np.testing.assert_allclose(np.exp(batched).sum(axis=1), 1.0, atol=1e-9)
    with pytest.raises(InputError, match="bos_token_ids"):
        lm([[]])


def test_byte_lm_over_gpt2_model_matches_brute_force():
    tokenizer = make_tokenizer("gpt2")
    eos = tokenizer.vocab_size
    lm = HFCausalLM(_tiny_gpt2(eos + 1))
    byte_lm = ByteLM(lm, tokenizer, eos, bos_token_ids=[eos])
    exact = byte_lm.next_byte_logprobs(b"the c")

    def with_bos(batch):
        return lm([[eos] + list(context) for context in batch])

    reference = brute_force_next_byte(tokenizer, with_bos, eos, b"the c")
    np.testing.assert_allclose(np.exp(exact), np.exp(reference), atol=1e-9)
    out = byte_lm.greedy(b"the c", 5)
    assert len(out) <= 5
