"""tokkit.nn.seanet: the compiled ELU is within 1 ulp of torch's, the ELU fused into a conv's padding gives
exactly the unfused values, and a stream of one piece takes the whole-pass path (bit-identical to forward)."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tokkit.nn.layout import is_nwc, to_nwc
from tokkit.nn import seanet
from tokkit.nn.seanet import SEANetConfig, SEANetDecoder, SEANetEncoder, apply_elu, pad1d

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("mode", ["reflect", "constant", "replicate"])
@pytest.mark.parametrize("nwc", [False, True])
@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("length,left,right", [(50, 6, 1), (50, 0, 3), (50, 2, 0), (4, 6, 1), (50, 0, 0)])
def test_elu_fused_into_the_padding_is_elu_then_pad(mode, nwc, batch, length, left, right):
    torch.manual_seed(0)
    x = torch.randn(batch, 8, length) * 2
    x = to_nwc(x) if nwc else x
    for alpha in (1.0, 0.5):
        fused = pad1d(x, left, right, mode, elu=alpha)
        plain = pad1d(apply_elu(x, alpha), left, right, mode)
        assert torch.equal(fused, plain)
        assert is_nwc(fused) == is_nwc(plain)


def _unfused(layers: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """The stack run layer by layer, ELUs on their own (what the fused path must equal)."""
    for layer in layers:
        if hasattr(layer, "block") and layer._fusable(x):  # a residual unit whose two 1x1 convs run as a GEMM pair
            x = seanet._pointwise_pair(layer.shortcut, x, layer.block[-1], _unfused(layer.block[:-1], x))
        elif hasattr(layer, "block"):  # a residual unit
            x = layer.shortcut(x) + _unfused(layer.block, x)
        elif isinstance(layer, nn.ELU):
            x = apply_elu(x, layer.alpha)
        else:
            x = layer(x)
    return x


@pytest.mark.parametrize("causal,pad_mode", [(True, "reflect"), (True, "constant"), (False, "reflect")])
def test_fused_stacks_equal_the_layer_by_layer_pass(causal, pad_mode):
    torch.manual_seed(0)
    config = SEANetConfig(n_filters=4, dimension=16, ratios=(4, 2), lstm=1, causal=causal, pad_mode=pad_mode)
    encoder, decoder = SEANetEncoder(config).eval(), SEANetDecoder(config).eval()
    audio = torch.randn(1, 1, 8 * 50 + 3)
    with torch.inference_mode():
        latents = encoder(audio)
        assert torch.equal(latents, _unfused(encoder.layers, audio))
        assert torch.equal(decoder(latents), _unfused(decoder.layers, latents))
        if causal:  # one piece: the whole-pass path; several: the same values up to kernel rounding
            assert torch.equal(encoder.stream(audio, {}, True), latents)
            state: dict = {}
            parts = [encoder.stream(audio[..., s:s + 57], state, s + 57 >= audio.shape[-1])
                     for s in range(0, audio.shape[-1], 57)]
            torch.testing.assert_close(torch.cat(parts, -1), latents, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("nwc", [False, True])
def test_compiled_elu_is_within_one_ulp_of_torch(nwc, monkeypatch):
    """Every float32 value the activation sees (a wide spread, the expm1 range edges, signed zeros, infinities,
    NaN): the compiled pass is within 1 ulp of torch's ELU, in the input's layout; without it, torch's ELU."""
    if os.environ.get("TOKKIT_REQUIRE_KERNELS"):  # CI builds it: without it this would compare torch with torch
        assert seanet._elu is not None, "tokkit.nn._elu not built (python setup.py build_ext --inplace)"
    g = torch.Generator().manual_seed(1)
    values = torch.cat([torch.randn(60_000, generator=g) * 4, torch.linspace(-30.0, 3.0, 7_000),
                        torch.tensor([0.0, -0.0, float("nan"), float("inf"), float("-inf"), -1e-30, -1e-8, -17.0,
                                      -17.4, -20.5, -88.0, -104.0, 1e-30, 3e38])])
    x = values[: 3 * (values.numel() // 3)].reshape(1, 3, -1)
    x = to_nwc(x) if nwc else x
    for alpha in (1.0, 0.25):
        ours, theirs = apply_elu(x, alpha), F.elu(x, alpha)
        assert is_nwc(ours) == is_nwc(x) or not nwc
        same = torch.isnan(theirs) == torch.isnan(ours)
        assert bool(same.all())
        finite = ~torch.isnan(theirs)
        ulp = torch.finfo(torch.float32).eps * theirs.abs().clamp_min(torch.finfo(torch.float32).tiny)
        assert bool(((ours == theirs) | ((ours - theirs).abs() <= ulp))[finite].all())  # infinities: equal
        assert torch.equal(torch.signbit(ours[finite]), torch.signbit(theirs[finite]))  # -0.0 stays -0.0
    if seanet._elu is not None:
        monkeypatch.setattr(seanet, "_elu", None)
        torch.testing.assert_close(apply_elu(x, 0.5), F.elu(x, 0.5), rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("bias", [True, False])
def test_residual_units_1x1_pair_is_their_sum_up_to_rounding_and_streams_alike(bias):
    """A residual unit with a 1x1 shortcut runs shortcut(x) + block's last 1x1 conv(h) as one GEMM accumulated into
    the other's output: within float32 rounding of the separate sum, channels-last, and a stream of pieces gives
    the same frames as forward (both take the pair)."""
    torch.manual_seed(3)
    unit = seanet.ResidualUnit(32, 3, 2, 2, False, True, "reflect").eval()
    if not bias:
        unit.shortcut.bias = None
        unit.block[-1].bias = None
    x = to_nwc(torch.randn(1, 32, 700))
    with torch.inference_mode():
        assert unit._fusable(x) and not unit._fusable(x.contiguous())
        fused = unit(x)
        plain = unit.shortcut(x) + seanet._sequence(unit.block, x)
        torch.testing.assert_close(fused, plain, rtol=1e-6, atol=1e-6)
        assert is_nwc(fused) and fused.stride() == (32 * 700, 1, 32)  # canonical strides: oneDNN reads them
        state: dict = {}
        parts = [unit.stream(x[..., s:s + 128], state, s + 128 >= 700) for s in range(0, 700, 128)]
        torch.testing.assert_close(torch.cat(parts, -1), fused, rtol=1e-6, atol=1e-6)


def test_identity_skip_accumulates_into_an_owned_input_only():
    """With an identity skip, a unit whose input nothing else reads (``owned``, as inside a stack) adds its block
    into that input in place (within rounding of x + block(x)); otherwise its input is left untouched."""
    torch.manual_seed(4)
    unit = seanet.ResidualUnit(32, 3, 1, 2, True, True, "reflect").eval()
    x = to_nwc(torch.randn(1, 32, 500))
    with torch.inference_mode():
        want = x + seanet._sequence(unit.block, x)
        kept = x.clone()
        out = unit(x)
        assert torch.equal(x, kept) and out.data_ptr() != x.data_ptr()
        torch.testing.assert_close(out, want, rtol=1e-6, atol=1e-6)
        mine = x.clone()
        owned = unit(mine, owned=True)
        assert owned.data_ptr() == mine.data_ptr()
        torch.testing.assert_close(owned, want, rtol=1e-6, atol=1e-6)
        state: dict = {}
        pieces = [unit.stream(x[..., s:s + 128].clone(), state, s + 128 >= 500, owned=True) for s in range(0, 500, 128)]
        torch.testing.assert_close(torch.cat(pieces, -1), owned, rtol=1e-6, atol=1e-6)


def test_compiled_elu_split_over_threads_gives_the_same_bits(monkeypatch):
    """At two torch threads the compiled ELU runs in two contiguous parts at once: the same values bit for bit, every
    element covered once."""
    from tokkit.nn import split

    torch.manual_seed(5)
    x = to_nwc(torch.randn(1, 64, 40000) * 3)
    one = apply_elu(x, 0.7)
    parts = []
    original = split.run_split

    def recording(kernel, count, elements):
        return original(lambda start, stop: parts.append((start, stop)) or kernel(start, stop), count, elements)

    monkeypatch.setattr(seanet, "run_split", recording)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        two = apply_elu(x, 0.7)
    finally:
        torch.set_num_threads(threads)
    if seanet._elu is not None:
        assert sorted(parts) == [(0, x.numel() // 2), (x.numel() // 2, x.numel())]
    assert torch.equal(one, two)
