"""Channels-last ("NWC") execution of 1-D convolutions on CPU.

A (B, C, T) tensor is *NWC* when channels are its innermost axis: ``x.transpose(1, 2)`` of a contiguous
(B, T, C). oneDNN runs narrow convolutions (a few hundred channels or fewer, which dominate audio codecs
because they run at the full sample rate) up to 2-3x faster on that layout than on (B, C, T) rows, while
wide ones are faster on rows. :class:`Conv1d` and :class:`ConvTranspose1d` are drop-in ``nn`` subclasses
(same parameters, same state dict keys, same values up to float rounding) that pick the faster layout per
layer and return their output in it. Elementwise torch ops keep a tensor's layout, so a stack changes
layout only where its width crosses :data:`NARROW`, never per layer. Helpers here (:func:`pad_time`,
:func:`cat_time`) keep the layout where plain ``F.pad`` / ``torch.cat`` would return rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

try:  # compiled with the package (setup.py); absent: those convolutions run in oneDNN
    from tokkit.nn import _window_dot
except ImportError:  # pragma: no cover - depends on the build
    _window_dot = None

#: widest input (channels) for which a dense convolution runs channels-last (measured on AVX2 CPUs with
#: oneDNN 3: 32-192 channels gain 1.3-3x, 256 is a tie, 512 and above lose)
NARROW = 192
#: False: every convolution runs on plain rows (the reference behaviour; for comparisons)
ENABLED = True
#: output steps per call of a dilated channels-last convolution. oneDNN's dilated kernel rounds an output
#: differently depending on how long the call is (it blocks the time axis by the call's length), so these
#: convolutions run as a batch of equal calls of this many steps on a grid from the input's start: an
#: output then rounds the same in any window that starts on a multiple of this grid (see ``time_grid``)
DILATED_CHUNK = 256  # 0: one call (the output's rounding then depends on the input's length)
#: an undilated dense transposed conv runs as polyphase GEMMs (:func:`_polyphase`) instead of oneDNN's deconvolution
#: from this many input channels and stride * output channels (the GEMMs' inner and outer widths) on, and, when its
#: output is wider than NARROW (the next layer converts polyphase's channels-last output back to rows), from
#: POLYPHASE_WIDE_IN input channels on; 0: never. Measured by benchmarks/transposed_conv.py (one AVX2 EPYC thread,
#: oneDNN 3.12, MKL; times including the conversion to the next layer's layout) on every kernel-2s decoder layer of
#: EnCodec, Mimi, DAC and SNAC, over 4 runs on a loaded machine: narrow outputs from 128 -> 64 at stride 4 up gain
#: 1.0-2.3x (least 128 -> 64 at stride 4, most 256 -> 128 and 384 -> 192 rows with long inputs), 1024 -> 512 and
#: 1536 -> 768 gain 1.2-1.5x; narrower GEMMs lose to or tie oneDNN's channels-last kernel (128 -> 64 and 192 -> 96
#: at stride 2: 0.77-1.04x, 64 -> 32: 0.85-1.0x) and so do 512 -> 256 and 768 -> 384 with the conversion (0.78-0.99x;
#: oneDNN's rows kernel already runs them at 75-90 GFLOP/s)
POLYPHASE_MIN_IN, POLYPHASE_MIN_COLS, POLYPHASE_WIDE_IN = 128, 256, 1024
#: fewest rows of a polyphase GEMM: MKL's sgemm rounds calls of 1-3 rows differently from longer ones (measured on
#: torch 2.13's MKL: from 4 rows on, a row's value is the same in any call), so shorter inputs are zero-padded
POLYPHASE_MIN_ROWS = 4


def is_nwc(x: torch.Tensor) -> bool:
    """Whether (B, C, T) ``x`` (C > 1) has channels as its innermost, stride-1 axis."""
    return x.dim() == 3 and x.shape[1] > 1 and x.stride(1) == 1 and (x.shape[2] == 1 or x.stride(2) == x.shape[1])


def to_nwc(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T) in any layout -> the same values, channels-last (a copy unless it already is)."""
    return x if x.shape[1] == 1 or is_nwc(x) else x.transpose(1, 2).contiguous().transpose(1, 2)


def to_ncw(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T) in any layout -> the same values as contiguous rows."""
    return x.contiguous()


def new_time(x: torch.Tensor, length: int) -> torch.Tensor:
    """An uninitialised (B, C, length) tensor in ``x``'s layout."""
    if is_nwc(x):
        return x.new_empty(x.shape[0], length, x.shape[1]).transpose(1, 2)
    return x.new_empty(*x.shape[:-1], length)


def pad_time(x: torch.Tensor, left: int, right: int, value: float = 0.0) -> torch.Tensor:
    """Constant padding of (B, C, T) along T that keeps the layout: (B, C, T) -> (B, C, left + T + right)."""
    if not is_nwc(x):
        return F.pad(x, (left, right), value=value)
    n = x.shape[-1]
    out = new_time(x, left + n + right)
    out[..., left:left + n] = x
    if left:
        out[..., :left] = value
    if right:
        out[..., left + n:] = value
    return out


def cat_time(pieces: Sequence[torch.Tensor]) -> torch.Tensor:
    """``torch.cat(pieces, dim=-1)`` of (B, C, t_i) tensors, channels-last when all pieces are."""
    if len(pieces) > 1 and all(is_nwc(p) for p in pieces):
        return torch.cat([p.transpose(1, 2) for p in pieces], dim=1).transpose(1, 2)
    return torch.cat(list(pieces), dim=-1)


def _pointwise(conv: nn.Conv1d | nn.ConvTranspose1d) -> bool:
    return (conv.kernel_size[0] == 1 and conv.stride[0] == 1 and conv.groups == 1 and conv.padding in ((0,), 0)
            and getattr(conv, "output_padding", (0,))[0] == 0)


def _wants_nwc(conv: nn.Conv1d | nn.ConvTranspose1d) -> bool | None:
    """True: run channels-last; False: rows; None: keep the input's layout (pointwise convs: a GEMM either way)."""
    if not ENABLED or conv.padding_mode != "zeros" or not torch.backends.mkldnn.is_available():
        return False
    if _pointwise(conv):
        return None
    if conv.groups == 1:
        return conv.in_channels <= NARROW
    if conv.groups == conv.in_channels == conv.out_channels:  # depthwise: channels-last only undilated
        return conv.dilation[0] == 1 and not isinstance(conv, nn.ConvTranspose1d)
    return False


def _run(conv: nn.Conv1d | nn.ConvTranspose1d, x: torch.Tensor) -> torch.Tensor:
    if x.dim() != 3 or x.device.type != "cpu":
        return _plain(conv, x)
    if isinstance(conv, nn.ConvTranspose1d) and _polyphase_fits(conv, x):
        return _polyphase(conv, x)
    if isinstance(conv, nn.Conv1d) and _one_channel_fits(conv, x):
        return _one_channel(conv, x)
    if isinstance(conv, nn.Conv1d) and _depthwise_fits(conv, x):
        return _depthwise_conv(conv, x)
    wants = _wants_nwc(conv)
    if wants is None:
        if not is_nwc(x):
            return _plain(conv, x)
        weight = conv.weight[:, :, 0] if isinstance(conv, nn.Conv1d) else conv.weight[:, :, 0].t()
        return F.linear(x.transpose(1, 2), weight, conv.bias).transpose(1, 2)
    if not wants:
        if _chunked_on_rows(conv):
            return _dilated_rows(conv, to_ncw(x))
        return _plain(conv, to_ncw(x))
    if x.shape[1] == 1:  # one channel is both layouts: give it strides that oneDNN reads as channels-last
        x = x.contiguous()
        x4 = x.as_strided((x.shape[0], 1, 1, x.shape[2]), (x.stride(0), 1, x.shape[2], 1))
    else:
        x4 = to_nwc(x).unsqueeze(2)
    if conv.dilation[0] > 1 and not isinstance(conv, nn.ConvTranspose1d) and conv.stride[0] == 1:
        return _dilated(conv, x4)
    if isinstance(conv, nn.ConvTranspose1d):
        y = F.conv_transpose2d(x4, conv.weight.unsqueeze(2), conv.bias, (1, conv.stride[0]), (0, conv.padding[0]),
                               (0, conv.output_padding[0]), conv.groups, (1, conv.dilation[0]))
    else:
        y = F.conv2d(x4, conv.weight.unsqueeze(2), conv.bias, (1, conv.stride[0]), (0, conv.padding[0]),
                     (1, conv.dilation[0]), conv.groups)
    return y.squeeze(2)


def _depthwise(conv: nn.Conv1d | nn.ConvTranspose1d) -> bool:
    return conv.groups == conv.in_channels == conv.out_channels > 1


def _chunked_on_rows(conv: nn.Conv1d | nn.ConvTranspose1d) -> bool:
    """Whether a dilated conv that runs on rows goes through :func:`_dilated_rows`. Depthwise ones do not: each
    output of theirs sums its taps in one order whatever the call's length (measured bit for bit: SNAC's
    depthwise k=7 convs, 64-256 channels, dilations 1-27, windows of 77-4096 steps), so one call is exact in any
    window and skips the pieces' copies."""
    return (conv.dilation[0] > 1 and not isinstance(conv, nn.ConvTranspose1d) and conv.stride[0] == 1
            and not _depthwise(conv))


def _dilated(conv: nn.Conv1d, x4: torch.Tensor) -> torch.Tensor:
    """A stride-1 dilated conv of channels-last (B, C, 1, T) ``x4`` as one batch of equal calls of
    :data:`DILATED_CHUNK` output steps on a grid from the input's start (the ends zero-padded)
    -> (B, C_out, T') channels-last."""
    b, c, _, t = x4.shape
    pad, halo = conv.padding[0], (conv.kernel_size[0] - 1) * conv.dilation[0]
    n_out = t + 2 * pad - halo
    chunk = DILATED_CHUNK
    n = -(-n_out // chunk) if chunk else 0
    if n_out <= 0 or not chunk or pad > chunk:  # too short (torch's error) / unchunked / padding past a piece
        return F.conv2d(x4, conv.weight.unsqueeze(2), conv.bias, 1, (0, pad), (1, conv.dilation[0]),
                        conv.groups).squeeze(2)
    rows = x4.squeeze(2).transpose(1, 2)  # (B, T, C) contiguous
    pieces = rows.new_empty(b, n, chunk + halo, c)
    inner = max(0, min(n - 1, (t + pad - halo - chunk) // chunk))  # pieces 1..inner lie inside the input
    if inner:
        start = chunk - pad
        pieces[:, 1:inner + 1] = rows[:, start:start + inner * chunk + halo].unfold(1, chunk + halo, chunk).transpose(2, 3)
    for i in [0] + list(range(inner + 1, n)):  # the ends: zero where the piece reaches past the input
        lo = i * chunk - pad
        piece = pieces[:, i]
        piece.zero_()
        src_lo, src_hi = max(lo, 0), min(lo + chunk + halo, t)
        if src_hi > src_lo:
            piece[:, src_lo - lo:src_hi - lo] = rows[:, src_lo:src_hi]
    y = F.conv2d(pieces.reshape(b * n, chunk + halo, c).transpose(1, 2).unsqueeze(2), conv.weight.unsqueeze(2),
                 conv.bias, 1, 0, (1, conv.dilation[0]), conv.groups)  # (B * n, C_out, 1, chunk) channels-last
    y = y.squeeze(2).transpose(1, 2).reshape(b, n * chunk, -1)  # a view: (B * n, chunk, C_out) rows
    return y[:, :n_out].transpose(1, 2)


def _dilated_rows(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """:func:`_dilated` for (B, C, T) rows (wide and grouped convolutions) -> (B, C_out, T') rows."""
    b, c, t = x.shape
    pad, halo = conv.padding[0], (conv.kernel_size[0] - 1) * conv.dilation[0]
    n_out, chunk = t + 2 * pad - halo, DILATED_CHUNK
    if n_out <= 0 or not chunk or pad > chunk:
        return _plain(conv, x)
    n = -(-n_out // chunk)
    padded = F.pad(x, (pad, n * chunk + halo - t - pad))
    pieces = padded.unfold(2, chunk + halo, chunk).transpose(1, 2).reshape(b * n, c, chunk + halo)  # a copy
    y = F.conv1d(pieces, conv.weight, conv.bias, 1, 0, conv.dilation[0], conv.groups)  # (B * n, C_out, chunk)
    y = y.view(b, n, -1, chunk)
    out = y.new_empty(b, y.shape[2], n_out)  # contiguous rows, one copy
    whole = (n - 1) * chunk
    if whole:  # (one piece: nothing before the last)
        out[..., :whole].view(b, -1, n - 1, chunk).copy_(y[:, :n - 1].transpose(1, 2))
    out[..., whole:] = y[:, n - 1, :, :n_out - whole]
    return out


def _float32_inference(conv: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``conv`` on ``x`` is float32 work that no autograd records (the compiled and GEMM rewrites' domain)."""
    params = [conv.weight] if conv.bias is None else [conv.weight, conv.bias]
    return (x.dtype == torch.float32 and all(p.dtype == torch.float32 for p in params)
            and not (torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in params))))


def _weight_cache(conv: nn.Module, name: str, build: Callable[[], Any], *extra: Any) -> Any:
    """``build()``, kept on ``conv`` under ``name`` while its weight (and ``extra``) is the same, unmodified tensor."""
    weight = conv.weight
    key = (weight.data_ptr(), weight._version, tuple(weight.shape), *extra)
    cached = conv.__dict__.get(name)
    if cached is None or cached[0] != key:
        with torch.no_grad():
            cached = (key, build())
        conv.__dict__[name] = cached
    return cached[1]


def _polyphase_fits(conv: nn.ConvTranspose1d, x: torch.Tensor) -> bool:
    """Whether ``conv`` on CPU ``x`` runs as :func:`_polyphase` (float32 inference, dense, undilated, wide enough)."""
    return (ENABLED and POLYPHASE_MIN_IN > 0 and conv.in_channels >= POLYPHASE_MIN_IN
            and conv.stride[0] * conv.out_channels >= POLYPHASE_MIN_COLS and conv.groups == 1
            and (conv.out_channels <= NARROW or conv.in_channels >= POLYPHASE_WIDE_IN)
            and conv.dilation[0] == 1 and conv.padding_mode == "zeros" and x.shape[-1] > 0
            and _float32_inference(conv, x))


def _polyphase_taps(conv: nn.ConvTranspose1d) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    """``conv``'s weight as ceil(K / s) matrices W_j (C_in, s * C_out), W_j[c, r * C_out + o] = weight[c, o, j * s + r]
    (zero past K), and its bias tiled s times; kept while the parameters are the same, unmodified tensors."""
    weight, bias = conv.weight, conv.bias
    s, k = conv.stride[0], conv.kernel_size[0]
    taps = -(-k // s)

    def build() -> tuple[list[torch.Tensor], torch.Tensor | None]:
        padded = F.pad(weight.detach(), (0, taps * s - k))  # (C_in, C_out, taps * s)
        mats = [padded[:, :, j * s:(j + 1) * s].transpose(1, 2).reshape(weight.shape[0], -1).contiguous()
                for j in range(taps)]
        return mats, None if bias is None else bias.detach().repeat(s)

    return _weight_cache(conv, "_polyphase", build, s, None if bias is None else (bias.data_ptr(), bias._version))


def _polyphase(conv: nn.ConvTranspose1d, x: torch.Tensor) -> torch.Tensor:
    """A transposed conv of (B, C_in, T) ``x`` (either layout) as GEMMs: output block t (samples t*s .. t*s+s-1 of
    the untrimmed result) is bias + sum_j x[t - j] @ W_j, so with x[b] as a (T, C_in) operand (channels-last rows,
    or rows read transposed: no copy either way) block rows j .. j + T accumulate x[b] @ W_j, and the (blocks,
    s * C_out) result is the channels-last output, cropped as a view -> (B, C_out, T') channels-last."""
    mats, bias = _polyphase_taps(conv)
    b, _, t = x.shape
    s, pad = conv.stride[0], conv.padding[0]
    length = (t - 1) * s - 2 * pad + conv.kernel_size[0] + conv.output_padding[0]
    rows = max(t, POLYPHASE_MIN_ROWS)
    blocks = max(rows + len(mats) - 1, -(-(pad + length) // s))
    out = x.new_empty(b, blocks, mats[0].shape[1])
    for i in range(b):
        a = x[i].t()  # (T, C_in)
        if rows > t:
            a = F.pad(a, (0, 0, 0, rows - t))
        y = out[i]
        if bias is None:
            torch.mm(a, mats[0], out=y[:rows])
            y[rows:].zero_()
        else:
            torch.addmm(bias, a, mats[0], out=y[:rows])
            y[rows:] = bias
        for j in range(1, len(mats)):
            y[j:j + rows].addmm_(a, mats[j])
    return out.view(b, blocks * s, -1)[:, pad:pad + length].transpose(1, 2)


def _one_channel_fits(conv: nn.Conv1d, x: torch.Tensor) -> bool:
    """Whether ``conv`` on CPU ``x`` runs as :func:`_one_channel` (float32 inference, one output channel, stride 1,
    undilated, channels-last input)."""
    return (_window_dot is not None and ENABLED and conv.out_channels == 1 and conv.groups == 1
            and conv.stride[0] == 1 and conv.dilation[0] == 1 and conv.padding_mode == "zeros"
            and isinstance(conv.padding, tuple) and is_nwc(x)
            and x.shape[-1] + 2 * conv.padding[0] >= conv.kernel_size[0]
            and _float32_inference(conv, x))


def _one_channel(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """A conv to one output channel of channels-last (B, C, T) ``x``: the window of output t is K * C consecutive
    floats of the (T, C) rows, so each output is one dot product with the (K, C) weight (tokkit.nn._window_dot; the
    outputs whose window reaches the zero padding read a small zero-padded copy) -> (B, 1, T')."""
    bias = conv.bias
    # (K, C): w[k * C + c] = weight[0, c, k]
    flat = _weight_cache(conv, "_one_channel", lambda: conv.weight.detach()[0].t().contiguous())
    b, c, t = x.shape
    k, pad = conv.kernel_size[0], conv.padding[0]
    n_out = t + 2 * pad - k + 1
    offset = 0.0 if bias is None else float(bias)
    out = x.new_empty(b, 1, n_out)
    inner = max(0, t - k + 1)  # outputs pad .. pad + inner - 1 read only rows of x
    for i in range(b):
        rows = x[i].t()  # (T, C) rows
        y = out[i, 0]
        if inner:
            _window_dot.window_dot(rows.data_ptr(), flat.data_ptr(), y[pad:].data_ptr(), inner, c, k * c, offset)
        for lo, hi in ((0, min(pad, n_out)), (pad + inner, n_out)):
            if hi > lo:  # outputs lo .. hi - 1 read rows lo - pad .. hi - 2 - pad + k, zero outside x
                piece = rows.new_zeros(hi - lo + k - 1, c)
                first, last = max(0, lo - pad), min(t, hi - 1 - pad + k)
                piece[first - (lo - pad):last - (lo - pad)] = rows[first:last]
                _window_dot.window_dot(piece.data_ptr(), flat.data_ptr(), y[lo:].data_ptr(), hi - lo, c, k * c, offset)
    return out


def _depthwise_fits(conv: nn.Conv1d, x: torch.Tensor) -> bool:
    """Whether ``conv`` on CPU ``x`` runs as :func:`_depthwise_conv` (float32 inference, depthwise, stride 1; dilated,
    or on rows: `benchmarks/layout_kernels.py` measured 4-14x oneDNN's speed there, 0.6-1.1x on undilated
    channels-last inputs)."""
    return (_window_dot is not None and hasattr(_window_dot, "depthwise") and ENABLED and _depthwise(conv)
            and conv.stride[0] == 1 and conv.padding_mode == "zeros" and isinstance(conv.padding, tuple)
            and (conv.dilation[0] > 1 or not is_nwc(x))  # undilated channels-last: oneDNN is as fast or faster
            and x.shape[-1] + 2 * conv.padding[0] > (conv.kernel_size[0] - 1) * conv.dilation[0]
            and _float32_inference(conv, x))


def _depthwise_conv(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """A depthwise conv of (B, C, T) ``x`` in its own layout (tokkit.nn._window_dot.depthwise: each output adds the
    bias, then its taps in one order, in either layout, so any window of the input gives the whole pass's outputs bit
    for bit) -> (B, C, T') in ``x``'s layout."""
    taps = _weight_cache(conv, "_depthwise", lambda: conv.weight.detach()[:, 0].t().contiguous())  # (K, C)
    bias = None if conv.bias is None else conv.bias.detach().contiguous()
    nwc = is_nwc(x)
    if not nwc:
        x = x.contiguous()
    b, c, t = x.shape
    k, dilation, pad = conv.kernel_size[0], conv.dilation[0], conv.padding[0]
    n_out = t + 2 * pad - (k - 1) * dilation
    out = x.new_empty(b, n_out, c) if nwc else x.new_empty(b, c, n_out)
    for i in range(b):
        _window_dot.depthwise(x[i].data_ptr(), taps.data_ptr(), 0 if bias is None else bias.data_ptr(),
                              out[i].data_ptr(), t, n_out, c, k, dilation, pad, not nwc)
    return out.transpose(1, 2) if nwc else out


def time_grid(module: nn.Module) -> int:
    """Input steps of ``module`` (a stack of 1-D convs, run in order) a window's start must be a multiple of for
    every :func:`_dilated` convolution in it to cut its calls on the same grid as over the whole input."""
    grid, step = 1, Fraction(1)  # input units per step of the current layer
    for child in module.modules():
        if isinstance(child, nn.ConvTranspose1d):
            step /= child.stride[0]
        elif isinstance(child, nn.Conv1d):
            if isinstance(child, Conv1d) and child.dilation[0] > 1 and child.stride[0] == 1 and DILATED_CHUNK \
                    and not _depthwise(child):
                grid = math.lcm(grid, (DILATED_CHUNK * step).numerator)
            step *= child.stride[0]
    return grid


def _plain(conv: nn.Conv1d | nn.ConvTranspose1d, x: torch.Tensor) -> torch.Tensor:
    if isinstance(conv, nn.ConvTranspose1d):
        return nn.ConvTranspose1d.forward(conv, x)
    return nn.Conv1d.forward(conv, x)


class Conv1d(nn.Conv1d):
    """``nn.Conv1d`` that runs in the faster memory layout for its width: (B, C_in, T) -> (B, C_out, T'),
    the output channels-last when it ran so (see the module docstring)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, T) -> (B, C_out, T')."""
        return _run(self, x)


class ConvTranspose1d(nn.ConvTranspose1d):
    """``nn.ConvTranspose1d`` that runs in the faster memory layout for its width: (B, C_in, T) -> (B, C_out, T')."""

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        """(B, C_in, T) -> (B, C_out, T')."""
        if output_size is not None:
            return super().forward(x, output_size)
        return _run(self, x)


#: smallest H * W for which a 3x3 convolution runs through NNPACK's Winograd kernels (measured on an AVX-512
#: EPYC, one thread: 1.5-2x faster than oneDNN's direct convolution at 32x32 from 64 channels, 2-3.4x from
#: 64x64 up; a tie at 16x16 and 3x slower at 8x8)
WINOGRAD_MIN_PIXELS = 32 * 32
#: fewest input / output channels for Winograd (3 -> 128 channels: 0.6x oneDNN's speed; 512 -> 16: 0.9x)
WINOGRAD_MIN_IN, WINOGRAD_MIN_OUT = 8, 32


def _winograd(conv: nn.Conv2d, x: torch.Tensor) -> bool:
    return (ENABLED and x.dim() == 4 and x.device.type == "cpu" and x.dtype == torch.float32
            and conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.groups == 1
            and conv.in_channels >= WINOGRAD_MIN_IN and conv.out_channels >= WINOGRAD_MIN_OUT
            and conv.padding == (1, 1) and conv.padding_mode == "zeros" and x.shape[-2] * x.shape[-1] >= WINOGRAD_MIN_PIXELS
            and not (torch.is_grad_enabled() and (x.requires_grad or conv.weight.requires_grad))
            and torch._nnpack_available())


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` that runs large 3x3 "same" convolutions through NNPACK's Winograd transform on CPU
    (inference only; about 1e-5 relative rounding per layer instead of 1e-6): (B, C_in, H, W) -> (B, C_out, H, W)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) -> (B, C_out, H', W')."""
        if _winograd(self, x):
            bias = self.bias if self.bias is not None else x.new_zeros(self.out_channels)
            return _winograd_in_bands(x.contiguous(), self.weight, bias)
        return super().forward(x)


#: most input elements (channels x rows x width) one NNPACK call transforms. NNPACK's workspace grows with its input
#: (a first call's peak growth at 128 channels, 512x512: 594 MB whole, 190 MB in bands, oneDNN 264 MB; output 128 MB;
#: benchmarks/layout_kernels.py), so larger pictures run in bands of rows: 2 Mi elements (64 rows of 128 channels
#: x 256) run at the same speed per row as one call; smaller bands slow NNPACK down
WINOGRAD_BAND_ELEMENTS = 1 << 21


def _winograd_in_bands(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """NNPACK's "same" 3x3 convolution of contiguous (B, C_in, H, W) ``x`` in bands of output rows, each read with
    its one-row halo (zero padding only at the picture's edges) -> (B, C_out, H, W)."""
    b, c, h, w = x.shape
    rows = max(1, WINOGRAD_BAND_ELEMENTS // max(1, c * w) - 2)
    if rows >= h:
        return torch._nnpack_spatial_convolution(x, weight, bias, [1, 1])
    out = x.new_empty(b, weight.shape[0], h, w)
    for top in range(0, h, rows):
        bottom = min(h, top + rows)
        low, high = max(0, top - 1), min(h, bottom + 1)
        band = torch._nnpack_spatial_convolution(x[:, :, low:high].contiguous(), weight, bias, [1, 1])
        out[:, :, top:bottom] = band[:, :, top - low:bottom - low]
    return out
