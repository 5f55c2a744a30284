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


def test_windowed_rope_stream_equals_the_whole_and_a_naive_window() -> None:
    """Causal window + RoPE + layer scale + no biases: pieces through ``stream`` give ``forward`` of the whole,
    the KV cache never holds more than context - 1 positions, and a position sees only its window."""
    torch.manual_seed(0)
    model = Transformer(dim=16, depth=2, heads=2, causal=True, final_norm=False, bias=False, layer_scale=0.5,
                        rope_max_period=100.0, context=5).eval()
    assert not any(name.endswith(".bias") and "norm" not in name for name, _ in model.named_parameters())
    x = torch.randn(2, 23, 16)
    with torch.no_grad():
        whole = model(x)
        state: dict = {}
        parts = [model.stream(x[:, s:s + size], state) for s, size in zip((0, 1, 4, 11, 12), (1, 3, 7, 1, 11))]
        assert all(layer["k"].shape[2] == 4 for layer in state.values())
        torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=1e-5, atol=1e-5)
        changed = x.clone()
        changed[:, :10] = torch.randn(2, 10, 16)  # position t >= 10 + 2 * (5 - 1) sees none of it, even through layers
        torch.testing.assert_close(model(changed)[:, 18:], whole[:, 18:], rtol=1e-5, atol=1e-5)
        assert not torch.allclose(model(changed)[:, 10:13], whole[:, 10:13])
