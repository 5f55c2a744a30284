"""tokkit.nn.windows.overlapped: windows with receptive-field context, one after another or several at once in
threads, give the whole-input result bit for bit on a DAC-style network (dilated convs, strides)."""

from __future__ import annotations

import pytest
import torch

from tokkit.nn.layout import time_grid
from tokkit.nn.snakenet import SnakeEncoder, SnakeNetConfig
from tokkit.nn import windows
from tokkit.nn.windows import overlapped


@pytest.fixture(scope="module")
def encoder() -> SnakeEncoder:
    torch.manual_seed(0)
    net = SnakeEncoder(SnakeNetConfig(encoder_dim=4, encoder_rates=(2, 4), latent_dim=8, decoder_dim=8,
                                      decoder_rates=(4, 2)))
    return net.eval()


@pytest.mark.parametrize("workers,window", [(1, 3), (2, 3), (2, 100), (3, 2)])
def test_windows_in_threads_equal_the_whole_input_exactly(encoder, workers, window, monkeypatch):
    monkeypatch.setattr(windows, "PARALLEL_OVERHEAD", 10.0)  # split this short input whatever its context
    grid = time_grid(encoder)
    hop = 8
    x = torch.randn(1, 1, 6 * grid + 3 * hop)
    before = torch.get_num_threads()
    with torch.inference_mode():
        whole = encoder(x)
        got = overlapped(encoder, x, window=window * grid, context=encoder.context(), ratio=(hop, 1), align=grid,
                         workers=workers)
    assert torch.get_num_threads() == before  # the workers' one-thread setting stays in their threads
    assert got.shape == whole.shape and torch.equal(got, whole)


def test_short_inputs_are_not_split(encoder):
    calls = []
    x = torch.randn(1, 1, 64)

    def fn(piece):
        calls.append(piece.shape[-1])
        return encoder(piece)

    with torch.inference_mode():
        overlapped(fn, x, window=10 ** 6, context=encoder.context(), ratio=(8, 1), align=time_grid(encoder), workers=2)
    assert calls == [64]


def test_short_inputs_with_a_large_context_stay_whole_at_two_workers(encoder):
    calls = []
    grid = time_grid(encoder)
    x = torch.randn(1, 1, 4 * grid)

    def fn(piece):
        calls.append(piece.shape[-1])
        return encoder(piece)

    with torch.inference_mode():
        overlapped(fn, x, window=10 ** 6, context=grid, ratio=(8, 1), align=grid, workers=2)
    assert calls == [4 * grid]  # 2 * grid of context would be 50% more work


def test_the_callers_thread_count_comes_back(monkeypatch):
    """torch.set_num_threads is process-wide: the workers' one-thread setting must not outlive the call."""
    monkeypatch.setattr(windows, "PARALLEL_OVERHEAD", 10.0)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        seen = []

        def fn(piece):
            seen.append(torch.get_num_threads())
            return piece * 2

        x = torch.randn(1, 1, 100000)
        assert torch.equal(overlapped(fn, x, window=10000, context=100, workers=2), x * 2)
        assert torch.get_num_threads() == 2
        assert seen and set(seen) == {1}
        with pytest.raises(ValueError):
            overlapped(lambda piece: (_ for _ in ()).throw(ValueError("boom")), x, window=10000, context=100, workers=2)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
