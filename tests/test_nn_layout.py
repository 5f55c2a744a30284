"""tokkit.nn.layout: channels-last 1-D convolutions and Winograd 3x3 convolutions give nn's values (up to float
rounding), keep or choose their layout as documented, and pad/cat keep the layout."""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

from tokkit.nn import layout
from tokkit.nn.layout import Conv1d, Conv2d, ConvTranspose1d, cat_time, is_nwc, pad_time, to_nwc

pytestmark = pytest.mark.usefixtures("one_thread")


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-5) -> None:
    assert a.shape == b.shape
    assert float((a - b).abs().max()) <= rtol * float(b.abs().max()), float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("cin,cout,kernel,stride,dilation,groups,padding", [
    (1, 16, 7, 1, 1, 1, 3), (16, 32, 7, 1, 3, 1, 9), (16, 32, 4, 2, 1, 1, 1), (24, 24, 7, 1, 1, 24, 3),
    (24, 24, 7, 1, 9, 24, 27), (16, 8, 1, 1, 1, 1, 0), (256, 64, 3, 1, 1, 1, 1)])
def test_conv1d_equals_nn_in_either_layout(cin, cout, kernel, stride, dilation, groups, padding):
    torch.manual_seed(0)
    ours = Conv1d(cin, cout, kernel, stride, padding, dilation, groups)
    plain = nn.Conv1d(cin, cout, kernel, stride, padding, dilation, groups)
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(2, cin, 301)
    with torch.inference_mode():
        want = plain(x)
        for given in (x, to_nwc(x)):
            got = ours(given)
            _close(got, want)
            assert got.is_contiguous() or is_nwc(got)
        narrow_dense = groups == 1 and kernel > 1 and cin <= layout.NARROW
        compiled = layout._window_dot is not None  # depthwise convs then run in the input's own layout
        depthwise = groups == cin and (dilation == 1 or compiled)
        assert is_nwc(ours(x)) == (narrow_dense and cout > 1 or depthwise and not compiled)
        assert is_nwc(ours(to_nwc(x))) == (cout > 1 and (narrow_dense or kernel == 1 or depthwise))


@pytest.mark.parametrize("cin,cout,stride,output_padding", [(32, 16, 2, 0), (16, 8, 3, 1), (512, 256, 4, 0)])
def test_conv_transpose1d_equals_nn(cin, cout, stride, output_padding):
    torch.manual_seed(1)
    ours = ConvTranspose1d(cin, cout, 2 * stride, stride, padding=(stride + 1) // 2, output_padding=output_padding)
    plain = nn.ConvTranspose1d(cin, cout, 2 * stride, stride, padding=(stride + 1) // 2, output_padding=output_padding)
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(1, cin, 97)
    with torch.inference_mode():
        for given in (x, to_nwc(x)):
            _close(ours(given), plain(x))
        assert is_nwc(ours(x)) == (cin <= layout.NARROW or layout._polyphase_fits(ours, x))


@pytest.mark.parametrize("cin,cout,kernel,stride,padding,output_padding,frames,batch,bias", [
    (128, 64, 8, 4, 0, 0, 50, 1, True), (128, 64, 8, 4, 2, 0, 1, 1, True), (128, 64, 8, 4, 2, 0, 2, 3, False),
    (256, 128, 10, 5, 3, 1, 2, 2, True), (160, 96, 7, 3, 2, 2, 33, 1, True), (130, 80, 3, 4, 0, 3, 9, 2, True),
    (512, 64, 16, 8, 4, 0, 3, 1, False), (256, 32, 8, 8, 0, 7, 5, 1, True), (384, 192, 8, 4, 2, 0, 301, 2, True),
    (128, 128, 13, 2, 6, 1, 40, 1, True), (1024, 256, 16, 8, 4, 0, 7, 1, True)])
def test_polyphase_transposed_conv_equals_nn(cin, cout, kernel, stride, padding, output_padding, frames, batch, bias):
    """Polyphase GEMMs give nn's values (any K / s, padding, output padding, T = 1 and 2, batch, bias or not) from
    either input layout, channels-last."""
    torch.manual_seed(3)
    ours = ConvTranspose1d(cin, cout, kernel, stride, padding, output_padding, bias=bias)
    plain = nn.ConvTranspose1d(cin, cout, kernel, stride, padding, output_padding, bias=bias)
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(batch, cin, frames)
    with torch.inference_mode():
        assert layout._polyphase_fits(ours, x)
        expected = plain(x)
        for given in (x, to_nwc(x)):
            got = ours(given)
            _close(got, expected)
            assert is_nwc(got) or cout == 1


@pytest.mark.parametrize("nwc", [True, False])
def test_polyphase_rounds_a_frame_the_same_in_any_window(nwc):
    """An output block's value depends only on its input frames, bit for bit, whatever the call's length (1 frame
    and up: MKL rounds calls of 1-3 rows differently, which the minimum row count hides) or start."""
    torch.manual_seed(4)
    ours = ConvTranspose1d(128, 64, 8, 4).eval()
    x = torch.randn(1, 128, 301)
    prepare = to_nwc if nwc else (lambda t: t.contiguous())
    with torch.inference_mode():
        whole = ours(prepare(x))
        for lo, hi in [(0, 1), (7, 8), (0, 2), (100, 103), (5, 9), (13, 170), (1, 301), (0, 301)]:
            part = ours(prepare(x[..., lo:hi]))
            first = 0 if lo == 0 else 1  # blocks first .. hi - lo - 1 of the window see only frames inside it
            assert torch.equal(part[..., first * 4:(hi - lo) * 4], whole[..., (lo + first) * 4:hi * 4])


def test_polyphase_only_without_autograd_and_its_weights_follow_updates():
    torch.manual_seed(5)
    ours = ConvTranspose1d(128, 64, 8, 4)
    plain = nn.ConvTranspose1d(128, 64, 8, 4)
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(2, 128, 20, requires_grad=True)
    assert not layout._polyphase_fits(ours, x)  # grad enabled, parameters need grad: torch's path
    ours(x).sum().backward()
    assert x.grad is not None and ours.weight.grad is not None
    with torch.no_grad():
        assert layout._polyphase_fits(ours, x)
        _close(ours(x), plain(x))
        for module in (ours, plain):
            module.weight.mul_(-2.0)
            module.bias.add_(1.0)
        _close(ours(x), plain(x))  # the cached GEMM weights follow in-place updates
    ours.load_state_dict(plain.state_dict())
    with torch.no_grad():
        _close(ours(x), plain(x))


def test_disabled_runs_nn_exactly():
    torch.manual_seed(2)
    ours, x = Conv1d(16, 16, 7, padding=3), torch.randn(1, 16, 200)
    plain = nn.Conv1d(16, 16, 7, padding=3)
    plain.load_state_dict(ours.state_dict())
    layout.ENABLED = False
    try:
        with torch.inference_mode():
            assert torch.equal(ours(x), plain(x))
    finally:
        layout.ENABLED = True


def test_pad_and_cat_keep_the_layout():
    x = torch.randn(2, 8, 50)
    for given in (x, to_nwc(x)):
        padded = pad_time(given, 3, 4, value=0.5)
        assert torch.equal(padded, torch.nn.functional.pad(x, (3, 4), value=0.5)) and is_nwc(padded) == is_nwc(given)
        joined = cat_time([given[..., :20], given[..., 20:]])
        assert torch.equal(joined, x) and is_nwc(joined) == is_nwc(given)


@pytest.mark.skipif(not torch._nnpack_available(), reason="torch built without NNPACK")
def test_winograd_conv2d_close_to_nn_and_only_where_documented(monkeypatch):
    torch.manual_seed(3)
    ours, plain = Conv2d(32, 32, 3, padding=1), nn.Conv2d(32, 32, 3, padding=1)
    plain.load_state_dict(ours.state_dict())
    narrow, plain_narrow = Conv2d(32, 16, 3, padding=1), nn.Conv2d(32, 16, 3, padding=1)  # too few outputs
    plain_narrow.load_state_dict(narrow.state_dict())
    calls = []
    original = torch._nnpack_spatial_convolution
    monkeypatch.setattr(torch, "_nnpack_spatial_convolution", lambda *a: calls.append(1) or original(*a))
    big, small = torch.randn(1, 32, 64, 64), torch.randn(1, 32, 16, 16)
    with torch.inference_mode():
        _close(ours(big), plain(big), rtol=1e-4)
        assert calls and torch.equal(ours(small), plain(small)) and len(calls) == 1
        _close(ours(big[..., :32, :32]), plain(big[..., :32, :32]), rtol=1e-4)  # 32x32: the smallest it takes
        assert len(calls) == 2
        assert torch.equal(narrow(big), plain_narrow(big)) and len(calls) == 2
    x = big.clone().requires_grad_()
    ours(x).sum().backward()  # training: autograd path, not NNPACK
    assert len(calls) == 2 and x.grad is not None


def test_fused_snake_equals_torch_in_both_layouts_and_in_place():
    """tokkit.nn._snake against the torch ops it replaces, rows and channels-last, new tensor and in place,
    one and two threads; large arguments, NaN and infinity behave as torch's sin."""
    from tokkit.nn import snakenet

    if snakenet._snake is None:
        if os.environ.get("TOKKIT_REQUIRE_KERNELS"):  # CI builds it: a missing kernel is a failure there
            pytest.fail("tokkit.nn._snake not built (python setup.py build_ext --inplace)")
        pytest.skip("tokkit.nn._snake not built (python setup.py build_ext --inplace)")
    torch.manual_seed(4)
    snake = snakenet.Snake1d(24)
    snake.alpha.data = torch.rand(1, 24, 1) * 3 + 0.05
    x = torch.randn(2, 24, 3001) * 20
    x[0, 0, :4] = torch.tensor([1e6, -3e4, float("nan"), float("inf")])
    with torch.inference_mode():
        kernel, snakenet._snake = snakenet._snake, None
        want = snake(x)  # the torch fallback
        snakenet._snake = kernel
        threads = torch.get_num_threads()
        try:
            for count in (1, 2):
                torch.set_num_threads(count)
                for given in (x, to_nwc(x)):
                    got = snake(given)
                    assert got.stride() == given.stride() and not got.data_ptr() == given.data_ptr()
                    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6, equal_nan=True)
                    copy = given.clone()
                    assert snakenet.fused_snake(copy, snake.alpha, inplace=True).data_ptr() == copy.data_ptr()
                    torch.testing.assert_close(copy, want, rtol=1e-6, atol=1e-6, equal_nan=True)
        finally:
            torch.set_num_threads(threads)
    y = x.clone().requires_grad_()
    snake(y).sum().backward()  # autograd: the torch ops
    assert y.grad is not None


@pytest.mark.parametrize("channels,dilation,groups,nwc", [(32, 3, 1, True), (32, 9, 1, False), (24, 9, 24, False),
                                                         (256, 3, 1, False)])
def test_dilated_convs_round_the_same_in_any_window_on_the_grid(channels, dilation, groups, nwc):
    """A dilated conv runs as equal calls of DILATED_CHUNK steps, so a window that starts on that grid gives
    bit-identical outputs wherever the whole input's receptive field lies inside it (and nn's up to rounding)."""
    torch.manual_seed(2)
    ours = Conv1d(channels, channels, 7, padding=3 * dilation, dilation=dilation, groups=groups)
    plain = nn.Conv1d(channels, channels, 7, padding=3 * dilation, dilation=dilation, groups=groups)
    plain.load_state_dict(ours.state_dict())
    chunk, reach = layout.DILATED_CHUNK, 3 * dilation
    x = torch.randn(1, channels, 5 * chunk + 77)
    prepare = to_nwc if nwc else (lambda t: t.contiguous())
    with torch.inference_mode():
        whole = ours(prepare(x))
        _close(whole, plain(x))
        for lo, hi in [(0, 2 * chunk + 5), (chunk, x.shape[-1]), (2 * chunk, 4 * chunk + 13)]:
            part = ours(prepare(x[..., lo:hi]))
            inner_lo = reach if lo > 0 else 0
            inner_hi = part.shape[-1] - (reach if hi < x.shape[-1] else 0)
            assert torch.equal(part[..., inner_lo:inner_hi], whole[..., lo + inner_lo:lo + inner_hi])


def test_time_grid_counts_strides_up_to_each_dilated_conv():
    chunk = layout.DILATED_CHUNK
    down = nn.Sequential(Conv1d(4, 4, 7, padding=9, dilation=3), Conv1d(4, 8, 4, stride=2, padding=1),
                         Conv1d(8, 8, 7, padding=27, dilation=9), Conv1d(8, 8, 8, stride=4, padding=2))
    assert layout.time_grid(down) == 2 * chunk
    up = nn.Sequential(ConvTranspose1d(8, 8, 16, 8, padding=4), Conv1d(8, 8, 7, padding=3, dilation=1),
                       Conv1d(8, 8, 7, padding=9, dilation=3))
    assert layout.time_grid(up) == chunk // 8
    assert layout.time_grid(nn.Sequential(Conv1d(4, 4, 3, padding=1))) == 1


@pytest.mark.parametrize("length", [1, 5, 100, 256, 257, 600])
def test_wide_dilated_conv_on_rows_at_any_length(length):
    """A dilated convolution too wide for channels-last runs in pieces of DILATED_CHUNK steps on rows: one piece
    (up to DILATED_CHUNK outputs) as well as several give nn's values."""
    torch.manual_seed(2)
    ours = Conv1d(256, 256, 7, 1, 9, 3)
    plain = nn.Conv1d(256, 256, 7, 1, 9, 3)
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(1, 256, length)
    with torch.inference_mode():
        _close(ours(x), plain(x))


@pytest.mark.parametrize("height", [70, 97])
def test_winograd_conv2d_runs_large_pictures_in_bands_of_rows(monkeypatch, height):
    """A picture over WINOGRAD_BAND_ELEMENTS runs in bands of rows (NNPACK's workspace grows with its input), each
    with its halo: every row equals nn's within rounding, including the rows where bands meet and the last, short
    band."""
    torch.manual_seed(5)
    ours, plain = Conv2d(16, 32, 3, padding=1), nn.Conv2d(16, 32, 3, padding=1)
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(2, 16, height, 40)
    monkeypatch.setattr(layout, "WINOGRAD_BAND_ELEMENTS", 16 * 40 * 12)  # 10 output rows per band
    calls = []
    original = torch._nnpack_spatial_convolution
    monkeypatch.setattr(torch, "_nnpack_spatial_convolution", lambda *a: calls.append(a[0].shape[2]) or original(*a))
    with torch.inference_mode():
        got, want = ours(x), plain(x)
    assert len(calls) == -(-height // 10) and max(calls) == 12
    for row in range(height):
        _close(got[:, :, row], want[:, :, row], rtol=1e-4)


@pytest.mark.parametrize("cin,kernel,padding,frames,batch,bias", [
    (32, 7, 0, 100, 1, True), (32, 7, 3, 100, 2, True), (64, 7, 3, 5, 1, False), (5, 3, 4, 2, 1, True),
    (96, 7, 3, 1, 1, True), (16, 4, 1, 3, 3, True), (9, 1, 0, 17, 1, True)])
def test_one_output_channel_conv_equals_nn(cin, kernel, padding, frames, batch, bias):
    """A conv to one channel of a channels-last input runs as window dot products (the compiled kernel) with nn's
    values, the zero padding included; rows inputs, autograd and strides keep the other paths."""
    torch.manual_seed(6)
    ours = Conv1d(cin, 1, kernel, padding=padding, bias=bias)
    plain = nn.Conv1d(cin, 1, kernel, padding=padding, bias=bias)
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(batch, cin, frames)
    with torch.inference_mode():
        assert layout._one_channel_fits(ours, to_nwc(x)) == (layout._window_dot is not None)
        assert not layout._one_channel_fits(ours, x.contiguous()) or frames == 1
        for given in (to_nwc(x), x.contiguous()):
            _close(ours(given), plain(x))
    assert not layout._one_channel_fits(ours, to_nwc(x))  # grad enabled and the weights need grad: torch's path


def test_one_output_channel_conv_rounds_an_output_the_same_in_any_window():
    if layout._window_dot is None:
        if os.environ.get("TOKKIT_REQUIRE_KERNELS"):  # CI builds it: a missing kernel is a failure there
            pytest.fail("tokkit.nn._window_dot is not built; CI builds it with python setup.py build_ext --inplace")
        pytest.skip("tokkit.nn._window_dot not built in this checkout")
    torch.manual_seed(7)
    ours = Conv1d(32, 1, 7, padding=3).eval()
    x = to_nwc(torch.randn(1, 32, 301))
    with torch.inference_mode():
        whole = ours(x)
        for lo, hi in [(0, 1), (0, 9), (7, 20), (100, 110), (13, 170), (1, 301)]:
            part = ours(to_nwc(x[..., lo:hi]))
            first = 0 if lo == 0 else 3  # outputs first .. of the window read only rows inside it
            last = max(first, part.shape[-1] - (0 if hi == 301 else 3))
            assert torch.equal(part[..., first:last], whole[..., lo + first:lo + last])


@pytest.mark.parametrize("channels,dilation", [(24, 9), (64, 3), (128, 27)])
def test_depthwise_dilated_convs_round_the_same_in_any_window(channels, dilation):
    """Depthwise dilated convs run as one call (the compiled kernel, or oneDNN on rows where it is not built: each
    output sums its taps in one order whatever the call's length): a window starting anywhere, off any grid, gives
    the whole pass's outputs bit for bit, so no grid."""
    torch.manual_seed(8)
    ours = Conv1d(channels, channels, 7, padding=3 * dilation, dilation=dilation, groups=channels)
    reach = 3 * dilation
    x = torch.randn(1, channels, 3000)
    with torch.inference_mode():
        whole = ours(x)
        for lo, hi in [(1, 700), (333, 2999), (1234, 1234 + 200 + 2 * reach)]:
            part = ours(x[..., lo:hi].contiguous())
            assert torch.equal(part[..., reach:part.shape[-1] - reach], whole[..., lo + reach:hi - reach])
    assert layout.time_grid(nn.Sequential(ours)) == 1
    assert not layout._chunked_on_rows(ours) and layout._chunked_on_rows(Conv1d(4, 4, 7, padding=9, dilation=3))



@pytest.mark.parametrize("channels,dilation,padding,length,batch,bias", [
    (64, 9, 27, 3000, 1, True), (128, 3, 9, 700, 2, True), (24, 1, 3, 50, 1, False), (32, 27, 81, 40, 1, True),
    (16, 2, 0, 30, 3, True), (8, 1, 6, 5, 1, True)])
def test_depthwise_kernel_equals_nn_in_both_layouts(channels, dilation, padding, length, batch, bias):
    """Depthwise convs run through the compiled kernel in the input's own layout (undilated channels-last ones on
    oneDNN): nn's values within rounding, the same bits from either layout, the layout kept; autograd keeps torch's
    path."""
    if layout._window_dot is None:
        if os.environ.get("TOKKIT_REQUIRE_KERNELS"):  # CI builds it: a missing kernel is a failure there
            pytest.fail("tokkit.nn._window_dot is not built; CI builds it with python setup.py build_ext --inplace")
        pytest.skip("tokkit.nn._window_dot not built in this checkout")
    torch.manual_seed(9)
    ours = Conv1d(channels, channels, 7, padding=padding, dilation=dilation, groups=channels, bias=bias)
    plain = nn.Conv1d(channels, channels, 7, padding=padding, dilation=dilation, groups=channels, bias=bias)
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(batch, channels, length)
    calls = []
    original = layout._window_dot.depthwise
    with torch.inference_mode():
        want = plain(x)
        layout._window_dot.depthwise = lambda *a: calls.append(1) or original(*a)
        try:
            rows, nwc = ours(x.contiguous()), ours(to_nwc(x))
        finally:
            layout._window_dot.depthwise = original
    assert len(calls) == (2 if dilation > 1 else 1) * batch  # undilated channels-last ones stay on oneDNN
    _close(rows, want)
    _close(nwc, want)
    assert rows.is_contiguous() and is_nwc(nwc)
    assert torch.equal(rows, nwc) or dilation == 1  # the kernel gives the same bits from either layout
    assert not layout._depthwise_fits(ours, x)  # grad enabled and the weights need grad: torch's path
