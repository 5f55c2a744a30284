"""How far can a port beat its reference with exact float32 numerics? A profile of both sides on the same input.

Used by benchmarks/published_codecs.py, published_visual.py and published_visual_cosmos.py (``--ceiling``),
which build the two callables (reference, tokkit) for one codec and operation. Here, at one thread:

1. both run alternately, after a warm-up, best of ``repeats``: wall and process CPU seconds, the measured ratio;
2. each runs ``repeats`` times under torch.profiler (CPU, shapes, Python frames), after the warm-up; the
   shortest of these calls is kept (on a shared machine the others were preempted: self times are wall);
3. the self CPU time of every aten op is classed by its name: GEMM (mm, addmm, bmm, baddbmm, ...),
   convolution (every op named *conv*), LSTM/RNN, attention (scaled_dot_product_attention and softmax),
   quantizer search (any op called from a frame whose file or function mentions quant/nearest/codebook/vq),
   other torch ops; what no torch op accounts for (Python, tokkit's compiled C kernels, numpy) is
   "outside torch ops" = the profiled call's wall time minus its ops' self time (shares are of the
   unprofiled best time, so with the profiler's overhead they can add up to more than 100%);
4. shared kernels: an op of the GEMM, convolution, LSTM/RNN or attention class (quantizer GEMMs included)
   whose (op name, input shapes, scalar arguments) occur on both sides counts the smaller of the two
   sides' times (a oneDNN convolution is keyed by its work: a 1-D one equals the 2-D one of height 1, a padding
   argument equals an input padded beforehand, for oneDNN and im2col ones alike, the bias is ignored; a GEMM's
   ``out=`` is ignored). A
   kernel with other shapes or another op (tokkit's NNPACK Winograd 3x3 convolutions, its 1x1 convolutions
   as addmm against the reference's slow_conv2d, SDPA against a bmm + softmax) is not shared;
5. ceiling = the reference's best wall time / the shared time: the speed-up if tokkit spent nothing
   anywhere else, printed beside the 1.5x target; and a second figure with tokkit's own unshared kernels
   kept as they are (shared + those): what removing only elementwise ops, copies and Python could give;
   between the two, a looser match (the same convolution op with the same weights, stride and dilation, or the
   same GEMM op with the same inner and output sizes, over other rows: tokkit's windowed batches, its chunks)
   whose faster side counts as shared too;
6. the model's costliest GEMM shape (reference side): its GFLOP/s in the profile against a plain torch.mm
   of ``PEAK_SIZE`` squared (this core's practical one-thread float32 peak), and the same for the
   costliest oneDNN convolution (FLOPs from its shapes, stride, padding, dilation).
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import time
from collections.abc import Callable

CLASSES = ("GEMM", "convolution", "LSTM/RNN", "attention", "quantizer search", "other torch ops")
SHARED_CLASSES = ("GEMM", "convolution", "LSTM/RNN", "attention")
GEMM_OPS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::addbmm", "aten::_addmm_activation",
            "aten::mv", "aten::addmv", "aten::mkldnn_linear", "mkldnn::_linear_pointwise"}
QUANT_FRAME = re.compile(r"(?<!un)quant|nearest|codebook|/vq\.py", re.IGNORECASE)  # not moshi's _encode_to_unquantized_latent
PEAK_SIZE = 2048
TARGET = 1.5


def op_class(name: str) -> str:
    """The kernel class of one aten op name (the quantizer class is decided by the caller's frames)."""
    low = name.lower()
    if name in GEMM_OPS:
        return "GEMM"
    if "conv" in low or "nnpack" in low:
        return "convolution"
    if "lstm" in low or "rnn" in low or "gru" in low:
        return "LSTM/RNN"
    if "scaled_dot_product" in low or "attention" in low or "softmax" in low:
        return "attention"
    return "other torch ops"


def _is_op(name: str) -> bool:
    return "::" in name and not name.startswith("<")


def _in_quantizer(event) -> bool:
    parent = event.cpu_parent
    while parent is not None:
        if not _is_op(parent.name) and QUANT_FRAME.search(parent.name.split(": ", 1)[-1] + " " + parent.name):
            return True
        parent = parent.cpu_parent
    return False


GEMM_OPERANDS = {"aten::mm": 2, "aten::bmm": 2, "aten::mv": 2, "aten::addmm": 3, "aten::baddbmm": 3, "aten::addbmm": 3,
                 "aten::addmv": 3, "aten::_addmm_activation": 3}


#: convolution op -> positions of (padding, stride, dilation, transposed or None, groups) in its arguments
CONV_ARGS = {"aten::mkldnn_convolution": (3, 4, 5, None, 6), "aten::_convolution": (4, 3, 5, 6, 8)}


#: im2col + GEMM convolutions (input, weight, kernel_size, bias, stride, padding): positions of padding and stride
SLOW_CONV_ARGS = {"aten::_slow_conv2d_forward": (5, 4), "aten::slow_conv3d_forward": (5, 4)}


def _conv_work(name: str, shapes: list, concrete: list):
    """A convolution's work independent of how it was asked for: a 1-D convolution and the same one as 2-D
    with a height of 1 agree, a zero padding argument equals an input padded beforehand, the bias is dropped."""
    x, w = list(shapes[0]), list(shapes[1])
    if name in SLOW_CONV_ARGS:
        pad_at, stride_at = SLOW_CONV_ARGS[name]
        padding, stride = list(concrete[pad_at]), list(concrete[stride_at])
        x = x[:2] + [n + 2 * p for n, p in zip(x[2:], padding)]
        return (name, str([x, w]), str([[0] * len(padding), stride, [1] * len(padding), False, 1]))
    pad_at, stride_at, dilation_at, transposed_at, groups_at = CONV_ARGS[name]
    padding, stride, dilation = list(concrete[pad_at]), list(concrete[stride_at]), list(concrete[dilation_at])
    transposed = bool(concrete[transposed_at]) if transposed_at is not None else False
    if len(x) == 4 and x[2] == 1 and w[2] == 1:
        x, w = x[:2] + x[3:], w[:2] + w[3:]
        padding, stride, dilation = padding[1:], stride[1:], dilation[1:]
    if not transposed:
        x, padding = x[:2] + [n + 2 * p for n, p in zip(x[2:], padding)], [0] * len(padding)
    return (name, str([x, w]), str([padding, stride, dilation, transposed, concrete[groups_at]]))


def _key(event) -> tuple:
    """(op, input shapes, scalar arguments); a GEMM's ``out=`` tensor is dropped (same kernel, same work), and a
    oneDNN convolution is keyed by its work (:func:`_conv_work`)."""
    shapes = event.input_shapes
    concrete = list(getattr(event, "concrete_inputs", None) or [])
    if event.name in GEMM_OPERANDS:
        shapes = shapes[:GEMM_OPERANDS[event.name]]
    if event.name in CONV_ARGS or event.name in SLOW_CONV_ARGS:
        try:
            return _conv_work(event.name, shapes, concrete)
        except (IndexError, TypeError, ValueError):
            pass
    return (event.name, str(shapes), str([c for c in concrete if c is not None]))


def profile(run: Callable[[], object], tries: int = 2) -> tuple[dict, float]:
    """The least disturbed (shortest) of ``tries`` profiled calls of ``run``:
    ({(op, shapes, scalars): [class, self seconds, calls, in quantizer]}, its wall seconds)."""
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    wall, prof = math.inf, None
    for _ in range(tries):
        with torch.inference_mode(), torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True,
                                                   with_stack=True) as this:
            start = time.perf_counter()
            run()
            seconds = time.perf_counter() - start
        if seconds < wall:
            wall, prof = seconds, this
    ops: dict = {}
    for event in prof.events():
        if not _is_op(event.name) or event.self_cpu_time_total <= 0:
            continue
        quant = _in_quantizer(event)
        entry = ops.setdefault(_key(event), [op_class(event.name), 0.0, 0, quant])
        entry[1] += event.self_cpu_time_total / 1e6
        entry[2] += 1
    return ops, wall


def best_times(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, float]]:
    """Best (wall, process CPU) seconds of each callable, run alternately after one warm-up call each."""
    import torch

    best = {name: (math.inf, math.inf) for name in runs}
    with torch.inference_mode():
        for run in runs.values():
            run()
        for _ in range(repeats):
            for name, run in runs.items():
                wall, cpu = time.perf_counter(), time.process_time()
                run()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def class_times(ops: dict) -> dict[str, float]:
    out = dict.fromkeys(CLASSES, 0.0)
    for cls, seconds, _, quant in ops.values():
        out["quantizer search" if quant else cls] += seconds
    return out


def loose_key(key: tuple) -> tuple:
    """The kernel and its weights without the rows it runs over: a convolution's (op, weight, scalars), a GEMM's
    (op, the shapes but for the rows), anything else unchanged; a port running the same kernel with the same
    weights over windows (batch) or another length than the reference matches the reference here."""
    try:
        shapes = _shapes(key)
        if key[0] in CONV_ARGS or key[0] in SLOW_CONV_ARGS:
            return (key[0], str(shapes[1]), key[2])
        if key[0] in GEMM_OPERANDS:
            return (key[0], str([s[-1:] for s in shapes]), key[2])
    except (ValueError, SyntaxError, IndexError, TypeError):
        pass
    return key


def loose_shared(ref: dict, ours: dict) -> float:
    """Like :func:`shared_times` (summed) but matching by :func:`loose_key`: the same kernel and weights on
    other rows (tokkit's windowed batches, its chunks) count as shared too, the faster side's time."""
    def grouped(ops: dict) -> dict:
        out: dict = {}
        for key, (cls, seconds, _, _) in ops.items():
            if cls in SHARED_CLASSES:
                out[loose_key(key)] = out.get(loose_key(key), 0.0) + seconds
        return out
    theirs, mine = grouped(ref), grouped(ours)
    return sum(min(seconds, mine[key]) for key, seconds in theirs.items() if key in mine)


def shared_times(ref: dict, ours: dict) -> dict[str, float]:
    """Per shown class, the smaller side's time of the GEMM / convolution / LSTM / attention kernels (op, shapes,
    scalars) both sides run; such kernels inside a quantizer count under "quantizer search"."""
    out = dict.fromkeys((*SHARED_CLASSES, "quantizer search"), 0.0)
    for key, (cls, seconds, _, quant) in ref.items():
        if cls in SHARED_CLASSES and key in ours:
            out["quantizer search" if quant else cls] += min(seconds, ours[key][1])
    return out


def _shapes(key: tuple) -> list:
    import ast

    return ast.literal_eval(key[1])


def _scalars(key: tuple) -> list:
    import ast

    try:
        return ast.literal_eval(key[2])
    except (ValueError, SyntaxError):
        return []


def gemm_flops(key: tuple) -> float:
    """FLOPs of one call of a GEMM op from its input shapes (0 if not understood)."""
    shapes = [s for s in _shapes(key) if s]
    name = key[0]
    try:
        if name == "aten::mm":
            (m, k), (_, n) = shapes[:2]
            return 2.0 * m * k * n
        if name in ("aten::addmm", "aten::_addmm_activation"):
            (m, k), (_, n) = shapes[1:3]
            return 2.0 * m * k * n
        if name == "aten::bmm":
            (b, m, k), (_, _, n) = shapes[:2]
            return 2.0 * b * m * k * n
        if name in ("aten::baddbmm", "aten::addbmm"):
            (b, m, k), (_, _, n) = shapes[1:3]
            return 2.0 * b * m * k * n
    except (ValueError, TypeError):
        return 0.0
    return 0.0


def conv_flops(key: tuple) -> float:
    """FLOPs of one oneDNN convolution call (a key of :func:`_conv_work`, transposed or not), 0 if not understood."""
    if key[0] not in CONV_ARGS and key[0] not in SLOW_CONV_ARGS:
        return 0.0
    try:
        (x, w), (_, stride, dilation, transposed, _) = _shapes(key), _scalars(key)
        if transposed:  # every input element meets every weight of its group
            return 2.0 * math.prod(x) * math.prod(w[1:])
        out = 1
        for size, k, st, d in zip(x[2:], w[2:], stride, dilation):
            out *= (size - d * (k - 1) - 1) // st + 1
        return 2.0 * x[0] * w[0] * math.prod(w[1:]) * out
    except (IndexError, TypeError, ValueError):
        return 0.0


def peak_gflops(size: int = PEAK_SIZE, repeats: int = 8) -> float:
    """GFLOP/s of a plain torch.mm of two size x size float32 matrices (best of ``repeats``: on a shared
    machine the best call is the one least preempted)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2.0 * size ** 3 / best / 1e9


def costliest(ops: dict, cls: str, flops: Callable[[tuple], float]):
    """(key, GFLOP/s, share of the class's time) of the class's op key with the most time that has countable FLOPs."""
    rows = [(v[1], k, v) for k, v in ops.items() if v[0] == cls and flops(k) > 0]
    if not rows:
        return None
    seconds, key, (_, _, calls, _) = max(rows)
    return key, flops(key) * calls / seconds / 1e9, seconds


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def report(label: str, reference: Callable[[], object], tokkit: Callable[[], object], repeats: int = 2,
           peak: float | None = None) -> dict:
    """Time, profile and compare one codec operation; prints the row and returns its figures."""
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    best = best_times({"reference": reference, "tokkit": tokkit}, repeats)
    (ref_ops, ref_prof), (our_ops, our_prof) = profile(reference, repeats), profile(tokkit, repeats)
    ref_wall, our_wall = best["reference"][0], best["tokkit"][0]
    ref_cls, our_cls = class_times(ref_ops), class_times(our_ops)
    shared = shared_times(ref_ops, our_ops)
    shared_total = sum(shared.values())
    ceiling = ref_wall / shared_total if shared_total else math.inf
    peak = max(peak or 0.0, peak_gflops(repeats=4))  # the best seen in this process
    print(f"{label}: 1 thread, best of {repeats} alternately: reference {ref_wall:.3f} s, tokkit {our_wall:.3f} s wall "
          f"-> {ref_wall / our_wall:.2f}x (CPU time {best['reference'][1] / best['tokkit'][1]:.2f}x; target "
          f">= {TARGET:g}x)", flush=True)
    print(f"  {'class (self CPU s, profiled)':32s} {'reference':>10s} {'share':>6s} {'tokkit':>10s} {'shared':>10s}")
    for cls in CLASSES:
        mark = f"{shared[cls]:10.3f}" if cls in shared else f"{'-':>10s}"
        print(f"  {cls:32s} {ref_cls[cls]:10.3f} {ref_cls[cls] / ref_wall:6.1%} {our_cls[cls]:10.3f} {mark}")
    ref_out, our_out = ref_prof - sum(ref_cls.values()), our_prof - sum(our_cls.values())
    print(f"  {'outside torch ops':32s} {ref_out:10.3f} {ref_out / ref_wall:6.1%} {our_out:10.3f} {'-':>10s}")
    print(f"  {'profiled wall (profiler overhead)':32s} {ref_prof:10.3f} {ref_prof / ref_wall:6.1%} {our_prof:10.3f}"
          f" {'-':>10s}")
    unmatched = {side: sum(v[1] for k, v in ops.items() if v[0] in SHARED_CLASSES and k not in other)
                 for side, ops, other in (("reference", ref_ops, our_ops), ("tokkit", our_ops, ref_ops))}
    print(f"  kernel-class time whose (op, shapes) the other side never runs: reference {unmatched['reference']:.3f} s, "
          f"tokkit {unmatched['tokkit']:.3f} s (not counted as shared); the largest:")
    for side, ops, other in (("reference", ref_ops, our_ops), ("tokkit", our_ops, ref_ops)):
        alone = sorted(((v[1], k, v[2]) for k, v in ops.items() if v[0] in SHARED_CLASSES and k not in other),
                       reverse=True)[:3]
        for seconds, key, calls in alone:
            print(f"    {side:9s} {seconds:7.3f} s x{calls:<4d} {key[0]} {key[1][:80]} {key[2][:40]}")
    own = shared_total + unmatched["tokkit"]
    verdict = "reachable" if ceiling >= TARGET else "UNREACHABLE"
    print(f"  ceiling = reference {ref_wall:.3f} s / shared kernels {shared_total:.3f} s "
          f"({shared_total / ref_wall:.0%} of the reference) = {ceiling:.2f}x vs target {TARGET:g}x: {verdict} "
          f"with these kernels; counted as shared: {', '.join(c for c in shared if shared[c] > 0) or 'none'}")
    loose = loose_shared(ref_ops, our_ops)
    print(f"  the same kernels with the same weights on other rows (windows, batch, length) counted as shared too: "
          f"{loose:.3f} s, ceiling {ref_wall / loose if loose else math.inf:.2f}x")
    print(f"  with tokkit's own other kernels kept too (shared + {unmatched['tokkit']:.3f} s): {ref_wall / own:.2f}x "
          f"(the most this port gains by removing only elementwise ops, Python and copies)")
    row = {"label": label, "reference_s": ref_wall, "tokkit_s": our_wall, "ratio": ref_wall / our_wall,
           "cpu_ratio": best["reference"][1] / best["tokkit"][1], "ceiling": ceiling, "ceiling_own_kernels": ref_wall / own,
           "ceiling_same_kernels_any_rows": ref_wall / loose if loose else math.inf, "shared_s": shared_total,
           "shared": shared, "reference_classes": ref_cls, "tokkit_classes": our_cls, "peak_gflops": peak}
    for cls, flops in (("GEMM", gemm_flops), ("convolution", conv_flops)):
        top = costliest(ref_ops, cls, flops)
        if top is None:
            continue
        key, gflops, seconds = top
        ours = our_ops.get(key)
        ours_text = f"tokkit runs it too ({flops(key) * ours[2] / ours[1] / 1e9:.1f} GFLOP/s)" if ours else \
            "tokkit does not run this shape"
        print(f"  costliest {cls} of the reference: {key[0]} {key[1]} {key[2]} x{ref_ops[key][2]}: {seconds:.3f} s, "
              f"{gflops:.1f} GFLOP/s vs {peak:.1f} GFLOP/s plain torch.mm {PEAK_SIZE}^2 ({gflops / peak:.0%} of peak); "
              f"{ours_text}")
        row[f"{cls}_gflops"] = gflops
    print(f"  load: {uptime()}", flush=True)
    return row


def header() -> float:
    """Print what the ceiling lines mean and the core's GEMM peak; returns the peak GFLOP/s."""
    import torch

    torch.set_num_threads(1)
    peak = peak_gflops()
    print(f"ceiling rows (pid {os.getpid()}, torch {torch.__version__}, 1 thread): shared = GEMM, convolution, "
          f"LSTM/RNN and attention ops with the same op name, input shapes and scalar arguments on both sides "
          f"(oneDNN convolutions by their work: 1-D = 2-D of height 1, padding argument = padded input, bias ignored) "
          f"(the same MKL / oneDNN kernel on the same work; each counts the faster side); ops of other shapes or "
          f"names, quantizer search outside those, elementwise ops, Python and tokkit's compiled kernels are "
          f"work a port may remove. Plain torch.mm {PEAK_SIZE}x{PEAK_SIZE}: {peak:.1f} GFLOP/s. load: {uptime()}",
          flush=True)
    return peak
