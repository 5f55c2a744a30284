"""Two kernels of tokkit.nn.layout against what they replace, one thread, float32 inference.

    PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 5 python benchmarks/layout_kernels.py [--repeats 5]

1. Depthwise convolutions (k = 7: SNAC's dilated ones, ConvNeXt's in WavTokenizer / Vocos): torch's nn.Conv1d
   on rows, tokkit's previous path (oneDNN, dilated ones in DILATED_CHUNK pieces) and the compiled kernel
   (tokkit.nn._window_dot.depthwise), from rows and from channels-last inputs; best of ``--repeats``, the paths
   alternately; the largest difference from nn.Conv1d relative to its peak.
2. NNPACK Winograd 3x3 "same" convolutions of large pictures: peak RSS growth of a first call (NNPACK allocates its
   workspace then) and its time, each in a fresh process: one NNPACK call on the whole picture, tokkit's bands of
   rows (``WINOGRAD_BAND_ELEMENTS``), and oneDNN (torch's conv2d).
Anchor: plain torch.mm 2048 x 2048 GFLOP/s on the same core.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: (channels, dilation, frames): SNAC 24 kHz decoder on 3 s (its three widths), WavTokenizer's ConvNeXt on 3 s
DEPTHWISE = [(64, 9, 73728), (64, 1, 73728), (128, 3, 36864), (256, 1, 9216), (768, 1, 225)]
#: (channels, height = width) of the Winograd memory check
PICTURES = [(128, 256), (128, 512)]


def _best(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def peak_gflops() -> float:
    import torch

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    return 2 * 2048**3 / _best(lambda: a @ b, 3) / 1e9


def depthwise_rows(repeats: int) -> list[dict]:
    import torch
    from torch import nn

    from tokkit.nn import layout
    from tokkit.nn.layout import Conv1d, to_nwc

    rows = []
    for channels, dilation, frames in DEPTHWISE:
        torch.manual_seed(0)
        ours = Conv1d(channels, channels, 7, padding=3 * dilation, dilation=dilation, groups=channels)
        plain = nn.Conv1d(channels, channels, 7, padding=3 * dilation, dilation=dilation, groups=channels)
        plain.load_state_dict(ours.state_dict())
        x = torch.randn(1, channels, frames)
        for name, given in (("rows", x), ("channels-last", to_nwc(x))):
            with torch.inference_mode():
                want = plain(x)
                err = float((ours(given) - want).abs().max() / want.abs().max())
                kernel, saved = layout._window_dot, layout._window_dot
                times = {"torch": float("inf"), "previous": float("inf"), "kernel": float("inf")}
                for _ in range(repeats):
                    times["torch"] = min(times["torch"], _best(lambda: plain(given), 1))
                    layout._window_dot = None  # tokkit's path before the kernel
                    try:
                        times["previous"] = min(times["previous"], _best(lambda: ours(given), 1))
                    finally:
                        layout._window_dot = saved
                    times["kernel"] = min(times["kernel"], _best(lambda: ours(given), 1))
            assert kernel is not None
            rows.append({"channels": channels, "dilation": dilation, "frames": frames, "input": name,
                         **{k: v * 1e3 for k, v in times.items()}, "max_rel_diff": err})
    return rows


def winograd_worker(mode: str, channels: int, size: int) -> dict:
    """One first call in this fresh process: peak RSS growth (MB) and seconds."""
    import torch

    from tokkit.nn import layout

    torch.set_num_threads(1)
    torch._nnpack_available()  # initialises NNPACK (its first call fails otherwise)

    def status(field: str) -> float:
        line = next(li for li in Path("/proc/self/status").read_text().splitlines() if li.startswith(field + ":"))
        return int(line.split()[1]) / 1024

    x, w, b = torch.randn(1, channels, size, size), torch.randn(channels, channels, 3, 3), torch.zeros(channels)
    base = status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    start = time.perf_counter()
    with torch.inference_mode():
        if mode == "whole":
            y = torch._nnpack_spatial_convolution(x, w, b, [1, 1])
        elif mode == "bands":
            y = layout._winograd_in_bands(x, w, b)
        else:
            y = torch.nn.functional.conv2d(x, w, b, padding=1)
    seconds = time.perf_counter() - start
    return {"mode": mode, "channels": channels, "size": size, "peak_growth_mb": status("VmHWM") - base,
            "output_mb": y.numel() * 4 / 2**20, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(winograd_worker(args.worker[0], int(args.worker[1]), int(args.worker[2]))))
        return
    import torch

    torch.set_num_threads(1)
    print(f"load average {os.getloadavg()[0]:.1f}; plain torch.mm 2048^2: {peak_gflops():.1f} GFLOP/s, one thread")
    print("depthwise k=7 convolutions, ms (best of alternating rounds):")
    for r in depthwise_rows(args.repeats):
        print(f"  {r['channels']:4d} ch, dilation {r['dilation']:2d}, {r['frames']:6d} frames, {r['input']:13s}: torch "
              f"{r['torch']:7.2f}  tokkit before {r['previous']:7.2f}  kernel {r['kernel']:6.2f} "
              f"({r['previous'] / r['kernel']:.1f}x before, {r['torch'] / r['kernel']:.1f}x torch); "
              f"max diff {r['max_rel_diff']:.1e} of peak")
    print("NNPACK Winograd 3x3, first call in a fresh process (peak RSS growth, MB; output size; seconds):")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    for channels, size in PICTURES:
        for mode in ("whole", "bands", "onednn"):
            out = subprocess.run([sys.executable, __file__, "--worker", mode, str(channels), str(size)], env=env,
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"  {channels} ch {size}x{size} {mode:6s}: peak growth {r['peak_growth_mb']:6.1f} MB (output "
                  f"{r['output_mb']:.0f} MB), {r['seconds']:.2f} s")
    print(f"load average after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
