"""Speed of the audio decoders' transposed convolutions: torch's conv_transpose1d on rows, tokkit's oneDNN path
(tokkit.nn.layout before polyphase GEMMs) and the polyphase GEMM path, one thread, float32 inference; and of their
last convolutions (to one channel): torch's conv1d on rows, oneDNN's on channels-last and the compiled
window dot products (tokkit.nn._window_dot).

    PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 5 python benchmarks/transposed_conv.py [--repeats 7] [--codecs encodec dac]
    PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 5 /tmp/speed/venvs/audioports/bin/python benchmarks/transposed_conv.py \
        --decode encodec_24khz --seconds 5 --rounds 8     (dac_44khz / snac_24khz: the dacsnac venv, mimi: mimi's)

``--decode``: whole decodes by tokkit's port (built as benchmarks/published_codecs.py builds it, so the reference
package must be importable) in one process, alternately with both rewrites off (oneDNN as before) and on; min and
median wall time of ``--rounds`` each (the same process, model and input, so the machine's load hits both alike).

Shapes: the four transposed convs (kernel 2s) of the EnCodec 24 kHz decoder on 5 s of audio, of Mimi's SEANet
decoder on 10 s, of DAC 44 kHz's and SNAC 24 kHz's decoders on 3 s (padding ceil(s/2) as the authors build them;
SNAC pads its input to whole attention windows: 144 frames).
Each input is in the layout tokkit's stack hands the layer (channels-last up to ``layout.NARROW`` channels, rows
above). Time: best of ``--repeats`` rounds, the three paths timed alternately in each round; GFLOP/s counts the
conv's 2 * C_in * C_out * K * T multiply-adds (the last conv's as well). Anchor: plain torch.mm 2048 x 2048 on the same core.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from tokkit.nn import layout  # noqa: E402
from tokkit.nn.layout import Conv1d, ConvTranspose1d, to_ncw, to_nwc  # noqa: E402

#: codec -> (C_in, kernel, output samples, padding) of the decoder's last conv (to one channel; EnCodec and Mimi pad
#: the input themselves: padding 0 on kernel - 1 more samples)
LAST = {"encodec": (32, 7, 120000, 0), "mimi": (64, 3, 240000, 0), "dac": (96, 7, 132608, 3),
        "snac": (64, 7, 73728, 3)}
#: (codec, [(C_in, C_out, stride, input frames, padding)]) of each decoder's transposed convs (kernel 2 * stride)
SHAPES = {
    "encodec": [(512, 256, 8, 375, 0), (256, 128, 5, 3000, 0), (128, 64, 4, 15000, 0), (64, 32, 2, 60000, 0)],
    "mimi": [(1024, 512, 8, 250, 0), (512, 256, 6, 2000, 0), (256, 128, 5, 12000, 0), (128, 64, 4, 60000, 0)],
    "dac": [(1536, 768, 8, 259, 4), (768, 384, 8, 2072, 4), (384, 192, 4, 16576, 2), (192, 96, 2, 66304, 1)],
    "snac": [(1024, 512, 8, 144, 4), (512, 256, 8, 1152, 4), (256, 128, 4, 9216, 2), (128, 64, 2, 36864, 1)],
}


def load() -> str:
    """The machine's load line (``uptime``)."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def mm_peak() -> float:
    """GFLOP/s of plain torch.mm 2048 x 2048 (best of 5)."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    torch.mm(a, b)
    best = min(_time(lambda: torch.mm(a, b)) for _ in range(5))
    return 2 * 2048 ** 3 / best / 1e9


def _time(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def measure(cin: int, cout: int, stride: int, frames: int, padding: int, repeats: int) -> dict:
    """Best-of times (s) of the three paths on one shape, and the polyphase path's largest relative difference."""
    torch.manual_seed(0)
    conv = ConvTranspose1d(cin, cout, 2 * stride, stride, padding=padding).eval()
    rows = torch.randn(1, cin, frames)
    given = to_nwc(rows) if cin <= layout.NARROW else rows
    weight, bias = conv.weight.detach(), conv.bias.detach()
    saved = layout.POLYPHASE_MIN_IN

    def old():
        layout.POLYPHASE_MIN_IN = 0
        try:
            return conv(given)
        finally:
            layout.POLYPHASE_MIN_IN = saved

    # the next layer's layout: channels-last up to NARROW channels, rows above (what the stack converts to)
    after = to_nwc if cout <= layout.NARROW else to_ncw
    paths = {"torch": lambda: F.conv_transpose1d(rows, weight, bias, stride, padding),
             "old": old, "polyphase": lambda: layout._polyphase(conv, given),
             "old+": lambda: after(old()), "polyphase+": lambda: after(layout._polyphase(conv, given))}
    best, diff = _race(paths, "polyphase", repeats)
    return {**best, "gflop": 2 * cin * cout * 2 * stride * frames / 1e9, "diff": diff}


def _race(paths: dict, candidate: str, repeats: int) -> tuple[dict, float]:
    """Best-of times (s) of each path, timed alternately after a warm-up, and ``candidate``'s largest difference to
    the "torch" path relative to its peak."""
    best = dict.fromkeys(paths, math.inf)
    with torch.inference_mode():
        reference = paths["torch"]()
        diff = float((paths[candidate]() - reference).abs().max() / reference.abs().max())
        for run in paths.values():
            run()
        for _ in range(repeats):
            for name, run in paths.items():
                best[name] = min(best[name], _time(run))
    return best, diff


def measure_last(cin: int, kernel: int, samples: int, padding: int, repeats: int) -> dict:
    """Best-of times (s) of a decoder's last conv (cin -> 1) on rows (torch), channels-last in oneDNN and as window
    dot products, and the latter's largest relative difference to torch."""
    torch.manual_seed(0)
    conv = Conv1d(cin, 1, kernel, padding=padding).eval()
    rows = torch.randn(1, cin, samples + kernel - 1 - 2 * padding)
    given = to_nwc(rows)
    weight, bias = conv.weight.detach(), conv.bias.detach()
    compiled = layout._window_dot

    def onednn():
        layout._window_dot = None
        try:
            return conv(given)
        finally:
            layout._window_dot = compiled

    paths = {"torch": lambda: F.conv1d(rows, weight, bias, 1, padding), "old": onednn,
             "window_dot": lambda: layout._one_channel(conv, given)}
    best, diff = _race(paths, "window_dot", repeats)
    return {**best, "gflop": 2 * cin * kernel * samples / 1e9, "diff": diff}


def decode_ab(codec: str, seconds: float, rounds: int) -> None:
    """Prints min / median wall time of tokkit's decode of ``codec`` with the polyphase and window-dot paths off
    and on, alternately in one process."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import published_codecs

    keep, run = published_codecs._callable(codec, "tokkit", "decode", seconds)
    polyphase, kernel = layout.POLYPHASE_MIN_IN, layout._window_dot
    times: dict[str, list[float]] = {"oneDNN (before)": [], "polyphase + window_dot": []}
    run()
    try:
        for _ in range(rounds):
            for name in times:
                on = name != "oneDNN (before)"
                layout.POLYPHASE_MIN_IN, layout._window_dot = (polyphase, kernel) if on else (0, None)
                times[name].append(_time(run))
    finally:
        layout.POLYPHASE_MIN_IN, layout._window_dot = polyphase, kernel
    print(f"{codec} decode of {seconds:g} s, {rounds} rounds alternately; load: {load()}")
    for name, values in times.items():
        print(f"  {name:24} min {min(values):.3f} s  median {statistics.median(values):.3f} s")
    before, after = (min(v) for v in times.values())
    print(f"  before / after (min): {before / after:.2f}x")
    del keep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--codecs", nargs="+", choices=sorted(SHAPES), default=list(SHAPES))
    parser.add_argument("--decode", nargs="+", metavar="CODEC", help="time whole decodes instead (see above)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.decode:
        for codec in args.decode:
            decode_ab(codec, args.seconds, args.rounds)
        return
    print(f"torch {torch.__version__}, 1 thread, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
          f"layout.NARROW={layout.NARROW}, POLYPHASE_MIN_IN={layout.POLYPHASE_MIN_IN}, "
          f"POLYPHASE_MIN_COLS={layout.POLYPHASE_MIN_COLS}, POLYPHASE_WIDE_IN={layout.POLYPHASE_WIDE_IN}; "
          f"load: {load()}")
    print(f"anchor: plain torch.mm 2048x2048 {mm_peak():.1f} GFLOP/s")
    print("old+ / polyphase+: the same, then converted to the layout the next layer runs in (channels-last up to "
          "NARROW output channels, rows above), as the decoder stack does")
    print(f"{'codec':8} {'C_in->C_out':>11} {'K/s':>5} {'T':>6} {'in':>4} | {'torch rows':>10} {'old':>8} "
          f"{'polyphase':>9} ms | {'old':>4} {'poly':>4} GFLOP/s | poly/old | {'old+':>6} {'poly+':>6} ms "
          f"poly+/old+ | max rel diff")
    for codec in args.codecs:
        for cin, cout, stride, frames, padding in SHAPES[codec]:
            r = measure(cin, cout, stride, frames, padding, args.repeats)
            layout_in = "nwc" if cin <= layout.NARROW else "rows"
            probe = ConvTranspose1d(cin, cout, 2 * stride, stride, padding=padding)
            with torch.inference_mode():
                rule = "polyphase" if layout._polyphase_fits(probe, torch.empty(1, cin, frames)) else "old"
            print(f"{codec:8} {f'{cin}->{cout}':>11} {f'{2 * stride}/{stride}':>5} {frames:>6} {layout_in:>4} | "
                  f"{r['torch'] * 1e3:10.1f} {r['old'] * 1e3:8.1f} {r['polyphase'] * 1e3:9.1f} ms | "
                  f"{r['gflop'] / r['old']:4.0f} {r['gflop'] / r['polyphase']:4.0f} GFLOP/s | "
                  f"{r['old'] / r['polyphase']:5.2f}x | {r['old+'] * 1e3:6.1f} {r['polyphase+'] * 1e3:6.1f} ms "
                  f"{r['old+'] / r['polyphase+']:5.2f}x | {r['diff']:.1e}  rule: {rule}", flush=True)
    print(f"last conv (C_in -> 1, channels-last input){'' if layout._window_dot else ': window_dot NOT BUILT'}")
    print(f"{'codec':8} {'C_in':>5} {'K':>2} {'samples':>7} | {'torch rows':>10} {'oneDNN':>8} {'window_dot':>10} ms | "
          f"{'oneDNN':>6} {'wdot':>5} GFLOP/s | wdot/oneDNN | max rel diff")
    for codec in args.codecs:
        if layout._window_dot is None:
            break
        cin, kernel, samples, padding = LAST[codec]
        r = measure_last(cin, kernel, samples, padding, args.repeats)
        print(f"{codec:8} {cin:>5} {kernel:>2} {samples:>7} | {r['torch'] * 1e3:10.2f} {r['old'] * 1e3:8.2f} "
              f"{r['window_dot'] * 1e3:10.2f} ms | {r['gflop'] / r['old']:6.1f} {r['gflop'] / r['window_dot']:5.1f} "
              f"GFLOP/s | {r['old'] / r['window_dot']:5.2f}x | {r['diff']:.1e}", flush=True)
    print(f"load: {load()}")


if __name__ == "__main__":
    main()
