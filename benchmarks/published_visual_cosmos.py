"""Speed and memory of tokkit's Cosmos DI / DV port against the authors' code, same weights, same input.

    PYTHONPATH=.:PATH/Cosmos-Tokenizer /work/venvs/cosmos/bin/python benchmarks/published_visual_cosmos.py \
        [--model DI8x8 DI16x16 DV4x8x8 DV8x8x8 DV8x16x16] [--size 256] [--frames 9] [--threads 1] [--repeats 2] [--memory]
    ... --ceiling   one thread, in this process: both sides profiled, their shared kernels and the most any
        exact float32 port could gain (see benchmarks/ceiling.py)

The Cosmos rows of :mod:`benchmarks.published_visual` (kept in their own file: that one drives the TiTok
reference). Needs the authors' package ``cosmos_tokenizer`` (github.com/NVIDIA/Cosmos-Tokenizer) in the
scratch venv of scripts/make_cosmos_fixtures.py; tokkit itself does not. Model: a released architecture
(the authors' config with the release's compression) with their own random init, in float32 on the CPU;
the port gets the same tensors by name. Input: one synthetic ``--size`` x ``--size`` picture, or a clip of
``--frames`` such frames (1 + kT). Speed: both models in one process, timed alternately so that both see
the same load, best of ``--repeats``: wall seconds and the process's CPU seconds (one thread: the CPU time
is what the work cost, unlike the wall time it does not grow with other jobs' load; cache sharing remains). With ``--memory``, each (implementation, operation) also
runs in a fresh process: peak RSS growth over the process's state after loading the model. Encode:
pixels -> codes; decode: the reference's codes -> pixels. Codes and pixels of the two sides are compared.
Say what else ran on the machine: timings on a busy machine are only comparable as ratios in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RELEASES = {"DI8x8": ("DI", 8, None), "DI16x16": ("DI", 16, None), "DV4x8x8": ("DV", 8, 4),
            "DV8x8x8": ("DV", 8, 8), "DV8x16x16": ("DV", 16, 8)}


def reference(release: str):
    """The authors' network of a released configuration (their random init), float32, eval."""
    import torch
    from cosmos_tokenizer.networks import TokenizerConfigs, TokenizerModels

    name, spatial, temporal = RELEASES[release]
    config = dict(TokenizerConfigs[name].value, spatial_compression=spatial)
    if temporal:
        config["temporal_compression"] = temporal
    torch.manual_seed(0)
    return TokenizerModels[name].value(**config).eval().to(dtype=torch.float32)


def port(state: dict, release: str):
    from tokkit.codecs.image.published.cosmos import from_reference

    return from_reference(state, f"Cosmos-0.1-Tokenizer-{release}").eval()


def pixels(release: str, size: int, frames: int):
    import numpy as np
    import torch

    y, x = np.mgrid[0:size, 0:size] / size
    clip = [np.stack([np.sin(6 * x + 0.3 * t), np.cos(5 * y - 0.2 * t), x * y], 0) * 0.8 for t in range(frames)]
    video = torch.from_numpy(np.stack(clip, 1).astype(np.float32))[None]  # (1, 3, T, H, W)
    return video if RELEASES[release][0] == "DV" else video[:, :, 0]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sides(args: argparse.Namespace):
    ref = reference(args.model)
    state = {**ref.state_dict(), **{f"quantizer.{k}": v for k, v in ref.quantizer.named_buffers()}}
    ours = port(state, args.model)

    def ref_encode(x):
        return ref.encoder_jit()(x)[0].long()

    def ref_decode(codes):
        return ref.decoder_jit()(codes.int())

    return ref_encode, ref_decode, ours.encode, ours.decode


def worker(args: argparse.Namespace) -> None:
    """One side, one operation, in this process: seconds and peak RSS growth."""
    import torch

    torch.set_num_threads(args.threads)
    x = pixels(args.model, args.size, args.frames)
    ref_encode, ref_decode, port_encode, port_decode = sides(args)
    codes = None
    if args.op == "decode":  # random codes of the latent shape: encoding here would already raise the peak RSS
        _, spatial, temporal = RELEASES[args.model]
        grid = (args.size // spatial,) * 2
        shape = (1, 1 + (args.frames - 1) // temporal, *grid) if temporal else (1, *grid)
        codes = torch.randint(0, 64000, shape, generator=torch.Generator().manual_seed(0))
    encode, decode = (ref_encode, ref_decode) if args.side == "reference" else (port_encode, port_decode)
    base = rss_mb()
    best = float("inf")
    with torch.inference_mode():
        for _ in range(args.repeats):
            start = time.perf_counter()
            encode(x) if args.op == "encode" else decode(codes)
            best = min(best, time.perf_counter() - start)
    print(json.dumps({"seconds": best, "peak_mb": rss_mb() - base}))


def interleaved(args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    x = pixels(args.model, args.size, args.frames)
    ref_encode, ref_decode, port_encode, port_decode = sides(args)
    keys = ("ref encode", "port encode", "ref decode", "port decode")
    best = {key: float("inf") for key in keys}
    cpu = {key: float("inf") for key in keys}
    outputs = {}
    with torch.inference_mode():
        for _ in range(args.repeats):
            for key, fn in zip(keys, (ref_encode, port_encode, ref_decode, port_decode)):
                start, start_cpu = time.perf_counter(), time.process_time()
                outputs[key] = fn(x) if key.endswith("encode") else fn(outputs["ref encode"])
                best[key] = min(best[key], time.perf_counter() - start)
                cpu[key] = min(cpu[key], time.process_time() - start_cpu)
    ref_codes, port_codes = outputs["ref encode"], outputs["port encode"]
    theirs, ours = outputs["ref decode"], outputs["port decode"]
    rel = float((theirs - ours).abs().max() / theirs.abs().max())
    return {**best, **{f"cpu {k}": v for k, v in cpu.items()}, "equal": int((ref_codes == port_codes).sum()), "total": ref_codes.numel(), "pixel_rel": rel}


def ceiling_rows(args: argparse.Namespace) -> None:
    """--ceiling: encode and decode of each model, both sides timed and profiled at one thread (benchmarks/ceiling.py)."""
    import torch

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import ceiling

    peak = ceiling.header()
    for model in args.model:
        args.model = model
        x = pixels(model, args.size, args.frames)
        ref_encode, ref_decode, port_encode, port_decode = sides(args)
        with torch.inference_mode():
            codes = ref_encode(x)
        shape = f"{args.frames} frames " if RELEASES[model][0] == "DV" else ""
        label = f"{model} {{}} ({shape}{args.size}x{args.size})"
        ceiling.report(label.format("encode"), lambda: ref_encode(x), lambda: port_encode(x), args.repeats, peak)
        ceiling.report(label.format("decode"), lambda: ref_decode(codes), lambda: port_decode(codes), args.repeats, peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=RELEASES, nargs="+", default=["DI8x8", "DV4x8x8"])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--memory", action="store_true", help="also run each side and operation in its own process")
    parser.add_argument("--ceiling", action="store_true", help="one thread: profile both sides, print the kernels "
                        "they share and the ceiling on the speed-up (benchmarks/ceiling.py)")
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)
    parser.add_argument("--side", default="", help=argparse.SUPPRESS)
    parser.add_argument("--op", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.model = args.worker
        if args.side == "both":
            print(json.dumps(interleaved(args)))
        else:
            worker(args)
        return
    if args.ceiling:
        return ceiling_rows(args)
    print(f"{args.size}x{args.size} px, clips of {args.frames} frames, {args.threads} thread(s), best of "
          f"{args.repeats}; load average at start {os.getloadavg()[0]:.1f}")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    base = [sys.executable, __file__, "--size", str(args.size), "--frames", str(args.frames), "--threads",
            str(args.threads), "--repeats", str(args.repeats)]
    for model in args.model:
        done = subprocess.run(base + ["--worker", model, "--side", "both"], capture_output=True, text=True, env=env)
        if done.returncode:
            raise SystemExit(f"{model} failed:\n{done.stderr[-3000:]}")
        r = json.loads(done.stdout.strip().splitlines()[-1])
        line = [f"{model}:"]
        for op in ("encode", "decode"):
            line.append(f"{op} reference {r['cpu ref ' + op]:.2f} / tokkit {r['cpu port ' + op]:.2f} CPU s "
                        f"({r['cpu ref ' + op] / r['cpu port ' + op]:.2f}x; wall {r['ref ' + op]:.2f} / "
                        f"{r['port ' + op]:.2f} s);")
        line.append(f"codes {r['equal']}/{r['total']} equal, pixels within {r['pixel_rel']:.1e} relative")
        print(" ".join(line))
        if args.memory:
            peaks = {}
            for side in ("reference", "tokkit"):
                for op in ("encode", "decode"):
                    done = subprocess.run(base + ["--worker", model, "--side", side, "--op", op],
                                          capture_output=True, text=True, env=env)
                    if done.returncode:
                        raise SystemExit(f"{model} {side} {op} failed:\n{done.stderr[-3000:]}")
                    peaks[side, op] = json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"]
            print(f"  peak memory growth (MB, own process): encode reference {peaks['reference', 'encode']:.0f}, "
                  f"tokkit {peaks['tokkit', 'encode']:.0f}; decode reference {peaks['reference', 'decode']:.0f}, "
                  f"tokkit {peaks['tokkit', 'decode']:.0f}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
