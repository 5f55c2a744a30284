"""SEANet convolutional encoder/decoder (EnCodec, Mimi, WavTokenizer's encoder) with streaming.

Plain convolutions (weight norm is folded into the weights at load time, see
:func:`tokkit.nn.weights.fold_weight_norm`) with the SEANet padding rules: a conv pads ``(k-1)*d - (s-1)``
samples (all on the left when causal, split otherwise) plus what makes its last window full; a
transposed conv trims ``k - s`` samples. Causal stacks also run as streams: :meth:`SEANet.stream` takes
audio in pieces, keeps each layer's unconsumed input, and gives the same frames as one whole-file
pass, so long files need bounded memory and have no seams.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tokkit.core.config import JsonConfig
from tokkit.errors import InputError
from tokkit.nn.layout import Conv1d, ConvTranspose1d, cat_time, is_nwc, new_time, pad_time, to_nwc
from tokkit.nn.split import run_split

try:  # the vectorised ELU (setup.py builds it; torch's ELU when it is absent)
    from tokkit.nn import _elu
except ImportError:  # pragma: no cover - a build without a C compiler
    _elu = None


def _same_dense_order(x: torch.Tensor, out: torch.Tensor) -> bool:
    """Whether (B, C, T) ``x`` and ``out`` each fill one block of memory in the same element order."""
    return x.shape == out.shape and x.dim() == 3 and (
        (x.is_contiguous() and out.is_contiguous())
        or (x.transpose(1, 2).is_contiguous() and out.transpose(1, 2).is_contiguous()))


def apply_elu(x: torch.Tensor, alpha: float = 1.0, out: torch.Tensor | None = None) -> torch.Tensor:
    """``F.elu(x, alpha)`` of (B, C, T) into ``out`` (default: a new tensor in ``x``'s layout). Float32 CPU tensors
    run the compiled vectorised pass (tokkit.nn._elu, within 1 ulp of torch's values; split over torch's threads);
    other tensors, or an ``out`` laid out differently, torch's ELU."""
    if out is None:
        out = torch.empty_like(x)
    if (_elu is not None and x.device.type == "cpu" and x.dtype == out.dtype == torch.float32
            and not (torch.is_grad_enabled() and x.requires_grad) and _same_dense_order(x, out)):
        source, target, value = x.data_ptr(), out.data_ptr(), float(alpha)
        run_split(lambda start, stop: _elu.elu(source, target, start, stop, value), x.numel(), x.numel())
        return out
    return torch.ops.aten.elu.out(x, alpha, 1, 1, out=out)


def pad1d(x: torch.Tensor, left: int, right: int, mode: str, elu: float | None = None) -> torch.Tensor:
    """F.pad on (B, C, T) that also reflects inputs shorter than the padding (zeros appended first).

    Reflection is written as flipped slices into one new tensor (the same values as F.pad's reflect,
    in about half its time on CPU); the result keeps ``x``'s memory layout (:mod:`tokkit.nn.layout`).
    ``elu``: pad ``F.elu(x, elu)`` instead, written straight into the padded tensor (one pass instead of two)
    where its interior is one contiguous block (one channels-last item): the activation then runs over the same
    flat range as on its own and rounds bit for bit the same; otherwise ELU, then the padding."""
    if elu is not None and (left or right) and mode in ("constant", "reflect") and x.shape[-1] > max(left, right) \
            and x.shape[0] == 1 and (is_nwc(x) or x.shape[1] == 1):
        n = x.shape[-1]
        out = new_time(x, left + n + right)
        inner = apply_elu(x, elu, out=out[..., left:left + n])
        if mode == "constant":  # elu(0) = 0: the zeros stay zeros
            if left:
                out[..., :left] = 0.0
            if right:
                out[..., left + n:] = 0.0
        else:
            if left:
                out[..., :left] = inner[..., 1:left + 1].flip(-1)
            if right:
                out[..., left + n:] = inner[..., n - 1 - right:n - 1].flip(-1)
        return out
    if elu is not None:
        x = apply_elu(x, elu)
    if mode == "constant":
        return pad_time(x, left, right)
    if mode != "reflect":
        return F.pad(x, (left, right), mode=mode)
    length, widest = x.shape[-1], max(left, right)
    extra = widest - length + 1 if length <= widest else 0
    if extra:
        x = pad_time(x, 0, extra)
    if not left and not right:
        return x[..., :x.shape[-1] - extra] if extra else x
    n = x.shape[-1]
    out = new_time(x, left + n + right)
    out[..., left:left + n] = x
    if left:
        out[..., :left] = x[..., 1:left + 1].flip(-1)
    if right:
        out[..., left + n:] = x[..., n - 1 - right:n - 1].flip(-1)
    return out[..., :out.shape[-1] - extra] if extra else out


class PaddedConv1d(Conv1d):
    """Conv1d with SEANet padding: (B, C_in, T) -> (B, C_out, ceil(T / stride)).

    ``stream`` (causal only) consumes pieces of the input and returns the frames they complete.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, dilation: int = 1,
                 *, causal: bool = False, pad_mode: str = "reflect", groups: int = 1, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel, stride, dilation=dilation, groups=groups, bias=bias)
        self.causal, self.pad_mode = causal, pad_mode
        self.span = (kernel - 1) * dilation + 1
        self.padding_total = self.span - stride

    def _extra(self, length: int) -> int:
        stride = self.stride[0]
        frames = math.ceil((length - self.span + self.padding_total) / stride + 1)
        return (frames - 1) * stride + self.span - self.padding_total - length

    def forward(self, x: torch.Tensor, elu: float | None = None) -> torch.Tensor:
        """(B, C_in, T) -> (B, C_out, ceil(T / stride)), whole sequence at once; ``elu``: of ``F.elu(x, elu)``,
        the activation fused into the padding."""
        extra = self._extra(x.shape[-1])
        if self.causal:
            left, right = self.padding_total, extra
        else:
            right = self.padding_total // 2
            left, right = self.padding_total - right, right + extra
        return super().forward(pad1d(x, left, right, self.pad_mode, elu))

    def stream(self, x: torch.Tensor, state: dict[str, Any], final: bool, elu: float | None = None) -> torch.Tensor:
        """Next piece (B, C_in, t) -> the frames it completes (B, C_out, t'); ``final`` flushes the end;
        ``elu``: of ``F.elu(x, elu)``."""
        buffer = state.get("buffer")
        if buffer is None and final and "pending" not in state and self.causal and x.shape[-1] > self.span:
            # the whole input in one piece: forward's single pad (left context and end at once) reads the same samples
            return self.forward(x, elu)
        if elu is not None:
            x = apply_elu(x, elu)
        if buffer is None:
            pending = state.pop("pending", None)
            x = x if pending is None else cat_time([pending, x])
            if x.shape[-1] <= self.padding_total and not final:
                state["pending"] = x  # the left reflection needs more samples than the padding
                return x.new_zeros(x.shape[0], self.out_channels, 0)
            buffer = pad1d(x, self.padding_total, 0, self.pad_mode)
        else:
            buffer = cat_time([buffer, x])
        stride = self.stride[0]
        if final:  # as forward: pad the end so that the last window is full
            buffer = pad1d(buffer, 0, (self.span - buffer.shape[-1]) % stride, self.pad_mode)
        frames = (buffer.shape[-1] - self.span) // stride + 1 if buffer.shape[-1] >= self.span else 0
        used = (frames - 1) * stride + self.span if frames else 0
        out = super().forward(buffer[..., :used]) if frames else buffer.new_zeros(x.shape[0], self.out_channels, 0)
        state["buffer"] = buffer[..., frames * stride:].clone()  # a copy: a view would pin the whole buffer
        return out


class PaddedConvTranspose1d(ConvTranspose1d):
    """ConvTranspose1d that trims ``kernel - stride`` samples: (B, C_in, T) -> (B, C_out, T * stride).

    Causal: trims ``ceil(trim * (k - s))`` on the right and the rest on the left; otherwise splits it.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, *,
                 causal: bool = False, trim_right_ratio: float = 1.0, groups: int = 1, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel, stride, groups=groups, bias=bias)
        total = kernel - stride
        self.right = math.ceil(total * trim_right_ratio) if causal else total // 2
        self.left = total - self.right
        self.causal = causal
        # input frames of left context that reach the first output sample of a new piece
        self.context = math.ceil((kernel - stride) / stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, T) -> (B, C_out, T * stride)."""
        y = super().forward(x)
        return y[..., self.left:y.shape[-1] - self.right]

    def stream(self, x: torch.Tensor, state: dict[str, Any], final: bool) -> torch.Tensor:
        """Causal, fully right-trimmed only: next frames (B, C_in, t) -> their samples (B, C_out, t * stride)."""
        if self.left:
            raise InputError("only causal transposed convs trimmed fully on the right can run as a stream")
        if x.shape[-1] == 0:
            return x.new_zeros(x.shape[0], self.out_channels, 0)
        previous = state.get("frames")
        buffer = x if previous is None else cat_time([previous, x])
        skip = 0 if previous is None else previous.shape[-1]
        stride = self.stride[0]
        y = super().forward(buffer)
        state["frames"] = buffer[..., max(0, buffer.shape[-1] - self.context):].clone()
        return y[..., skip * stride:buffer.shape[-1] * stride]


class SkipLSTM(nn.Module):
    """Multi-layer LSTM over the time axis with a residual connection: (B, C, T) -> (B, C, T)."""

    def __init__(self, channels: int, layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(channels, channels, layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> (B, C, T)."""
        steps = x.permute(2, 0, 1)
        y, _ = self.lstm(steps)
        return (y + steps).permute(1, 2, 0)

    def stream(self, x: torch.Tensor, state: dict[str, Any], final: bool) -> torch.Tensor:
        """Next piece (B, C, t) -> (B, C, t), carrying the hidden state across pieces."""
        steps = x.permute(2, 0, 1)
        if steps.shape[0] == 0:
            return x
        y, state["hidden"] = self.lstm(steps, state.get("hidden"))
        return (y + steps).permute(1, 2, 0)


class ResidualUnit(nn.Module):
    """SEANet residual block: act, conv(k, dilation), act, conv(1) plus a (1x1-conv or identity) skip."""

    def __init__(self, channels: int, kernel: int, dilation: int, compress: int, true_skip: bool,
                 causal: bool, pad_mode: str) -> None:
        super().__init__()
        hidden = channels // compress
        self.block = nn.Sequential(
            nn.ELU(), PaddedConv1d(channels, hidden, kernel, dilation=dilation, causal=causal, pad_mode=pad_mode),
            nn.ELU(), PaddedConv1d(hidden, channels, 1, causal=causal, pad_mode=pad_mode),
        )
        self.shortcut = nn.Identity() if true_skip else PaddedConv1d(channels, channels, 1, causal=causal,
                                                                     pad_mode=pad_mode)

    def forward(self, x: torch.Tensor, owned: bool = False) -> torch.Tensor:
        """(B, C, T) -> (B, C, T); ``owned``: ``x`` is an intermediate nothing else reads (an identity skip may then
        accumulate the block into it)."""
        if self._fusable(x, owned):
            return self._fused(x, _sequence(self.block[:-1], x))
        return _residual_sum(self.shortcut(x), _sequence(self.block, x))

    def stream(self, x: torch.Tensor, state: dict[str, Any], final: bool, owned: bool = False) -> torch.Tensor:
        """Next piece (B, C, t) -> (B, C, t) (stride-1 causal convs emit one frame per input frame)."""
        if self._fusable(x, owned):  # the same arithmetic as forward: a stream's frames equal the whole-file pass
            return self._fused(x, _stream_sequence(self.block[:-1], x, state.setdefault("block", {}), final))
        return _residual_sum(_stream_layer(self.shortcut, x, state.setdefault("skip", {}), final),
                             _stream_sequence(self.block, x, state.setdefault("block", {}), final))

    def _fusable(self, x: torch.Tensor, owned: bool = False) -> bool:
        """Whether the skip and the block's last 1x1 conv run as accumulated GEMMs (inference on one channels-last
        CPU item, float32): a 1x1 shortcut always, an identity skip into ``x`` itself when ``owned``."""
        return ((isinstance(self.shortcut, PaddedConv1d) or owned) and not torch.is_grad_enabled()
                and x.shape[0] == 1 and x.dtype == torch.float32 and x.device.type == "cpu" and is_nwc(x))

    def _fused(self, x: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """skip(x) + last 1x1 conv(hidden) for channels-last (1, C, T) ``x`` (see :meth:`_fusable`)."""
        if isinstance(self.shortcut, PaddedConv1d):
            return _pointwise_pair(self.shortcut, x, self.block[-1], hidden)
        last = self.block[-1]
        rows = x[0].t()  # (T, C): x's own memory
        rows.addmm_(to_nwc(hidden)[0].t(), last.weight[:, :, 0].t())
        if last.bias is not None:
            rows.add_(last.bias)
        return x


def _pointwise_pair(first: nn.Conv1d, x: torch.Tensor, second: nn.Conv1d, h: torch.Tensor) -> torch.Tensor:
    """``first(x) + second(h)`` for two 1x1 convs of channels-last (1, C, T) inputs: the first GEMM writes its
    output with both biases, the second accumulates into it (no third buffer, no separate sum) -> (1, C_out, T)
    channels-last."""
    bias = first.bias if second.bias is None else second.bias if first.bias is None else first.bias + second.bias
    rows = x[0].t()
    out = (torch.addmm(bias, rows, first.weight[:, :, 0].t()) if bias is not None
           else torch.mm(rows, first.weight[:, :, 0].t()))
    out.addmm_(to_nwc(h)[0].t(), second.weight[:, :, 0].t())
    return out[None].transpose(1, 2)  # canonical channels-last strides (oneDNN checks the batch stride too)


def _residual_sum(skip: torch.Tensor, block: torch.Tensor) -> torch.Tensor:
    """``skip + block``; without autograd added into ``block`` (the block's fresh output: one buffer fewer, the
    same values, as float addition commutes)."""
    if torch.is_grad_enabled() or block.shape != torch.broadcast_shapes(skip.shape, block.shape):
        return skip + block
    return block.add_(skip)


def _fused_elu(layers: nn.Sequential, index: int) -> float | None:
    """The ELU's alpha when ``layers[index]`` is an ELU whose output only feeds the padded conv after it
    (fused into that conv's padding), else None."""
    layer = layers[index]
    if type(layer) is nn.ELU and not layer.inplace and index + 1 < len(layers) \
            and isinstance(layers[index + 1], PaddedConv1d) and layers[index + 1].padding_total > 0:
        return float(layer.alpha)
    return None


def _layer(layer: nn.Module, x: torch.Tensor, owned: bool = False) -> torch.Tensor:
    """``layer(x)``; an ELU runs as :func:`apply_elu`, over ``x`` itself when ``owned`` (an intermediate output
    nothing else reads) and no autograd records it."""
    if type(layer) is nn.ELU and not layer.inplace and x.dim() == 3:
        in_place = owned and not torch.is_grad_enabled()
        return apply_elu(x, float(layer.alpha), out=x if in_place else None)
    if isinstance(layer, ResidualUnit):
        return layer(x, owned)
    return layer(x)


def _sequence(layers: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``layers(x)``, with each ELU fused into the padding of the conv after it. Every layer's output is a new
    tensor (SEANet's layers), so a layer past the first may overwrite its input."""
    elu = None
    for index, layer in enumerate(layers):
        if elu is not None:
            x, elu = layer(x, elu), None
        elif (elu := _fused_elu(layers, index)) is None:
            x = _layer(layer, x, owned=index > 0)
    return x


def _stream_layer(layer: nn.Module, x: torch.Tensor, state: dict[str, Any], final: bool,
                  owned: bool = False) -> torch.Tensor:
    if isinstance(layer, ResidualUnit):
        return layer.stream(x, state, final, owned)
    stream = getattr(layer, "stream", None)
    return stream(x, state, final) if stream is not None else _layer(layer, x, owned)


def _stream_sequence(layers: nn.Sequential, x: torch.Tensor, state: dict[int, Any], final: bool) -> torch.Tensor:
    elu = None
    for index, layer in enumerate(layers):
        if elu is not None:
            x, elu = layer.stream(x, state.setdefault(index, {}), final, elu), None
        elif (elu := _fused_elu(layers, index)) is None:
            x = _stream_layer(layer, x, state.setdefault(index, {}), final, owned=index > 0)
    return x


@dataclasses.dataclass
class SEANetConfig(JsonConfig):
    """Shape of a SEANet encoder/decoder pair (EnCodec's field names and defaults).

    ``ratios`` are the decoder's upsampling factors (the encoder uses them reversed); ``hop`` is their product.
    """

    channels: int = 1
    dimension: int = 128
    n_filters: int = 32
    n_residual_layers: int = 1
    ratios: tuple[int, ...] = (8, 5, 4, 2)
    kernel_size: int = 7
    last_kernel_size: int = 7
    residual_kernel_size: int = 3
    dilation_base: int = 2
    causal: bool = True
    pad_mode: str = "reflect"
    true_skip: bool = False
    compress: int = 2
    lstm: int = 2
    trim_right_ratio: float = 1.0

    def __post_init__(self) -> None:
        self.ratios = tuple(int(r) for r in self.ratios)
        if not self.ratios or min(self.ratios) < 1 or self.n_filters < 1 or self.dimension < 1:
            raise InputError(f"SEANet needs positive ratios, n_filters and dimension, got {self}")
        if self.pad_mode not in ("reflect", "constant", "replicate"):
            raise InputError(f"SEANet pad_mode must be reflect, constant or replicate, got {self.pad_mode!r}")

    @property
    def hop(self) -> int:
        return math.prod(self.ratios)


class SEANet(nn.Module):
    """A stack of SEANet layers in ``layers`` (indices as in the reference, activations included)."""

    layers: nn.Sequential

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, T_in) -> (B, C_out, T_out), whole sequence."""
        return _sequence(self.layers, x)

    @property
    def streamable(self) -> bool:
        return all(getattr(m, "causal", True) for m in self.modules()
                   if isinstance(m, (PaddedConv1d, PaddedConvTranspose1d)))

    def stream(self, x: torch.Tensor, state: dict[int, Any], final: bool) -> torch.Tensor:
        """Next piece (B, C_in, t) -> what it completes; pieces stitched equal ``forward`` of the whole."""
        if not self.streamable:
            raise InputError("only causal SEANet stacks can run as a stream")
        return _stream_sequence(self.layers, x, state, final)


#: fewest frames of context :meth:`SEANetEncoder.windowed` gives a window, so that every convolution call it makes
#: spans at least this many frames: oneDNN runs short calls through other kernels that round differently (measured:
#: WavTokenizer's last conv, 512 channels, calls of up to 34 frames on an AVX-512 CPU)
MIN_CALL_FRAMES = 64


class SEANetEncoder(SEANet):
    """Audio (B, channels, N) -> latents (B, dimension, ceil(N / hop))."""

    def __init__(self, config: SEANetConfig) -> None:
        super().__init__()
        c, width = config, config.n_filters
        conv = dict(causal=c.causal, pad_mode=c.pad_mode)
        layers: list[nn.Module] = [PaddedConv1d(c.channels, width, c.kernel_size, **conv)]
        for ratio in reversed(c.ratios):
            layers += [ResidualUnit(width, c.residual_kernel_size, c.dilation_base ** j, c.compress, c.true_skip,
                                    c.causal, c.pad_mode) for j in range(c.n_residual_layers)]
            layers += [nn.ELU(), PaddedConv1d(width, width * 2, ratio * 2, ratio, **conv)]
            width *= 2
        if c.lstm:
            layers.append(SkipLSTM(width, c.lstm))
        layers += [nn.ELU(), PaddedConv1d(width, c.dimension, c.last_kernel_size, **conv)]
        self.layers = nn.Sequential(*layers)
        self.hop = c.hop

    def windowed(self, x: torch.Tensor, *, window: int, context: int) -> torch.Tensor:
        """``forward`` of a long input (B, channels, N) in bounded memory -> latents (B, dimension, ceil(N / hop)),
        the same values bit for bit. The convolutions before the LSTM run in windows of ``window`` samples with
        ``context`` (at least their receptive field) on each side, starting on the hop's grid and the grid of
        chunked dilated convolutions (:func:`tokkit.nn.layout.time_grid`); the LSTM runs over their frames in
        pieces of ``window / hop`` frames carrying its state (one call's values: measured bit for bit); the
        last convolution in windows of frames with the same context. One ``forward`` when ``x`` fits a window.
        Bit for bit where oneDNN rounds each output of a convolution alike in calls of any length from
        ``MIN_CALL_FRAMES`` frames: measured at WavTokenizer's widths (32-512 channels); not at 2-16 channels."""
        from tokkit.nn.layout import time_grid
        from tokkit.nn.windows import overlapped

        split = next((i for i, layer in enumerate(self.layers) if isinstance(layer, SkipLSTM)), None)
        if split is None:
            raise InputError("only a SEANet encoder with an LSTM runs in windows at it")
        trunk, lstm, tail = self.layers[:split], self.layers[split], self.layers[split + 1:]
        align = math.lcm(self.hop, time_grid(trunk))
        window = -(-max(window, 1) // align) * align
        context = max(context, receptive_field(trunk), MIN_CALL_FRAMES * self.hop)
        if x.shape[-1] <= window + -(-context // align) * align:
            return self(x)
        frames = overlapped(lambda piece: _sequence(trunk, piece), x, window=window, context=context,
                            ratio=(self.hop, 1), align=align)
        step, state, pieces = window // self.hop, {}, []
        for start in range(0, frames.shape[-1], step):
            pieces.append(lstm.stream(frames[..., start:start + step], state, False))
        del frames
        frames = cat_time(pieces)  # in the LSTM's output layout, as forward hands it to the last convolution
        del pieces
        reach = max(receptive_field(tail), context // self.hop)  # so that no call is short (MIN_CALL_FRAMES)
        return overlapped(lambda piece: _sequence(tail, piece), frames, window=step, context=reach)


def receptive_field(layers: nn.Module) -> int:
    """Input steps on either side of an output step that can reach it through ``layers``' padded convolutions
    (in order; transposed convolutions are not counted): a bound for the context of a window."""
    reach, step = 0, 1
    for module in layers.modules():
        if isinstance(module, PaddedConv1d):
            reach += (module.span - 1) * step
            step *= module.stride[0]
    return reach


class SEANetDecoder(SEANet):
    """Latents (B, dimension, T) -> audio (B, channels, T * hop)."""

    def __init__(self, config: SEANetConfig) -> None:
        super().__init__()
        c = config
        width = c.n_filters * 2 ** len(c.ratios)
        conv = dict(causal=c.causal, pad_mode=c.pad_mode)
        layers: list[nn.Module] = [PaddedConv1d(c.dimension, width, c.kernel_size, **conv)]
        if c.lstm:
            layers.append(SkipLSTM(width, c.lstm))
        for ratio in c.ratios:
            layers += [nn.ELU(), PaddedConvTranspose1d(width, width // 2, ratio * 2, ratio, causal=c.causal,
                                                       trim_right_ratio=c.trim_right_ratio)]
            width //= 2
            layers += [ResidualUnit(width, c.residual_kernel_size, c.dilation_base ** j, c.compress, c.true_skip,
                                    c.causal, c.pad_mode) for j in range(c.n_residual_layers)]
        layers += [nn.ELU(), PaddedConv1d(width, c.channels, c.last_kernel_size, **conv)]
        self.layers = nn.Sequential(*layers)
