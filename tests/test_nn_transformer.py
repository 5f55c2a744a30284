"""The shared transformer block: shapes, the causal mask really hides the future, padding-free batching."""

from __future__ import annotations

import pytest
import torch

from tokkit.nn.transformer import Transformer, TransformerBlock


def test_shapes_and_batch_independence() -> None:
    torch.manual_seed(0)
    model = Transformer(dim=32, depth=2, heads=4).eval()
    x = torch.randn(3, 7, 32)
    y = model(x)
    assert y.shape == (3, 7, 32)
    torch.testing.assert_close(model(x[1:2]), y[1:2], rtol=1e-5, atol=1e-5)


def test_causal_mask_hides_later_positions() -> None:
    torch.manual_seed(0)
    causal = Transformer(dim=16, depth=2, heads=2, causal=True).eval()
    x = torch.randn(1, 6, 16)
    changed = x.clone()
    changed[:, 4:] = torch.randn(1, 2, 16)
    torch.testing.assert_close(causal(x)[:, :4], causal(changed)[:, :4])
    assert not torch.allclose(causal(x)[:, 4:], causal(changed)[:, 4:])
    full = Transformer(dim=16, depth=2, heads=2).eval()
    full.load_state_dict(causal.state_dict())
    assert not torch.allclose(full(x)[:, :4], full(changed)[:, :4])


def test_heads_must_divide_dim() -> None:
    with pytest.raises(ValueError, match="divisible"):
        TransformerBlock(dim=10, heads=3)


def test_cross_attention_block_reads_the_context_and_reuses_its_keys() -> None:
    from tokkit.nn.transformer import CrossAttentionBlock

    torch.manual_seed(0)
    block = CrossAttentionBlock(dim=16, heads=4).eval()
    queries, context = torch.randn(2, 5, 16), torch.randn(2, 9, 16)
    out = block(queries, context)
    assert out.shape == (2, 5, 16)
    torch.testing.assert_close(block(queries, kv=block.keys_values(context)), out)
    torch.testing.assert_close(block(queries[:, :2], context), out[:, :2])  # queries do not see each other
    assert not torch.allclose(block(queries, context.flip(0)), out)
    # the context is a set: permuting it changes nothing
    torch.testing.assert_close(block(queries, context[:, torch.randperm(9)]), out, rtol=1e-5, atol=1e-5)
