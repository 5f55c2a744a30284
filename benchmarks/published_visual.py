"""Speed and memory of tokkit's TiTok / One-D-Piece port against the authors' code, same weights, same pictures.

    PYTHONPATH=. /work/venvs/visual/bin/python benchmarks/published_visual.py \
        --titok-repo PATH/1d-tokenizer [--model titok_s128] [--images 4] [--threads 1 2] [--repeats 3] [--memory]
    ... --ceiling   one thread: both sides profiled, their shared kernels and the most any exact float32 port
        could gain (see benchmarks/ceiling.py)

Needs the authors' code (a checkout of github.com/bytedance/1d-tokenizer and the scratch venv of
scripts/make_visual_port_fixtures.py); tokkit itself does not. Model: a released architecture
(``--model`` titok_s128, titok_b64, titok_l32 or one-d-piece_s256/b256/l256, 256 px) with seeded random
weights (the authors' own init), saved once in the released ``.bin`` layout and read by both sides.
Pictures: ``--images`` synthetic 256x256 gradients. Speed: both models in one process per thread count,
timed alternately so that both see the same machine load (seconds per picture, best of ``--repeats``:
wall time and the process's CPU time, every thread's).
With ``--memory``, each (implementation, operation, threads) also runs in a fresh process: its speed,
peak memory = the process's peak RSS growth over its state after loading the model, and the process's
whole peak RSS (loading included). Encode: pictures -> all N codes; decode: those codes -> pixels.
The codes of the two sides are compared (equal except float32 near-ties in the reference's lookup).
Say what else ran on the machine: timings on a busy machine are only comparable as ratios in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

RELEASES = ("titok_s128", "titok_b64", "titok_l32", "one-d-piece_s256", "one-d-piece_b256", "one-d-piece_l256")


def pictures(count: int):
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:256, 0:256] / 256.0
    out = [np.stack([x * rng.random(), y, 1 - x * y * rng.random()], 0) * 0.8 + 0.1 for _ in range(count)]
    return torch.from_numpy(np.stack(out).astype(np.float32))


def reference(repo: Path, label: str):
    """The authors' model of a released config (random weights: their own init)."""
    import torch
    from make_visual_port_fixtures import RELEASES as CONFIGS, VQ_MODEL, hf_config, load_reference

    model_type, size, tokens = CONFIGS[label]
    module = load_reference(repo, small=False)  # One-D-Piece's model classes equal TiTok's but for decode(length)
    vq = dict(VQ_MODEL, vit_enc_model_size=size, vit_dec_model_size=size, vit_enc_patch_size=16,
              vit_dec_patch_size=16, num_latent_tokens=tokens)
    torch.manual_seed(0)
    return module.TiTok(hf_config(model_type, vq, 256)).eval()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    images = pictures(args.images)
    if args.side == "reference":
        model = reference(args.titok_repo, args.model)
        model.load_state_dict(torch.load(args.weights, weights_only=True))

        def encode(x):
            return model.encode(x)[1]["min_encoding_indices"].reshape(x.shape[0], -1)

        def decode(codes):
            return model.decode_tokens(codes)
    else:
        import tokkit

        model = tokkit.load(args.weights, device="cpu").model

        def encode(x):
            return model.encode(x * 2 - 1)

        def decode(codes):
            return model.decode(codes)
    codes = torch.load(args.codes, weights_only=True) if args.op == "decode" else None
    base = rss_mb()
    best = float("inf")
    with torch.inference_mode():
        for _ in range(args.repeats):
            start = time.perf_counter()
            out = encode(images) if args.op == "encode" else decode(codes)
            best = min(best, time.perf_counter() - start)
    if args.op == "encode" and args.save_codes:
        torch.save(out.cpu(), args.save_codes)
    print(json.dumps({"seconds_per_image": best / args.images, "peak_mb": rss_mb() - base, "total_mb": rss_mb()}))


def models(args: argparse.Namespace):
    """(the reference model, tokkit's model, the pictures), both models from ``args.weights``."""
    import torch

    import tokkit

    ref = reference(args.titok_repo, args.model)
    ref.load_state_dict(torch.load(args.weights, weights_only=True))
    return ref, tokkit.load(args.weights, device="cpu").model, pictures(args.images)


def ceiling_rows(args: argparse.Namespace) -> None:
    """--ceiling: encode and decode of both sides timed and profiled at one thread (benchmarks/ceiling.py)."""
    import torch

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import ceiling

    peak = ceiling.header()
    ref, port, images = models(args)
    with torch.inference_mode():
        codes = ref.encode(images)[1]["min_encoding_indices"].reshape(images.shape[0], -1)
    label = f"{args.model} {{}} ({args.images} picture(s) 256x256)"
    ceiling.report(label.format("encode"), lambda: ref.encode(images)[1]["min_encoding_indices"],
                   lambda: port.encode(images * 2 - 1), args.repeats, peak)
    ceiling.report(label.format("decode"), lambda: ref.decode_tokens(codes), lambda: port.decode(codes),
                   args.repeats, peak)


def interleaved(args: argparse.Namespace) -> None:
    """Both models in one process, timed alternately (reference, tokkit, reference, ...): on a busy
    machine both sides then see the same load; best of ``--repeats`` per side and operation."""
    import torch

    torch.set_num_threads(args.threads)
    ref, port, images = models(args)
    best = {key: float("inf") for key in ("ref encode", "port encode", "ref decode", "port decode")}
    cpu = dict(best)  # the process's CPU seconds (every thread), the least load-sensitive figure

    def timed(key, fn):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        best[key] = min(best[key], time.perf_counter() - start)
        cpu[key] = min(cpu[key], time.process_time() - start_cpu)
        return out

    with torch.inference_mode():
        for _ in range(args.repeats):
            ref_codes = timed("ref encode", lambda: ref.encode(images)[1]["min_encoding_indices"].reshape(images.shape[0], -1))
            port_codes = timed("port encode", lambda: port.encode(images * 2 - 1))
            timed("ref decode", lambda: ref.decode_tokens(ref_codes))
            timed("port decode", lambda: port.decode(ref_codes))
    print(json.dumps({**{k: v / args.images for k, v in best.items()}, **{f"cpu {k}": v / args.images for k, v in cpu.items()},
                      "equal": int((ref_codes == port_codes).sum()), "total": ref_codes.numel()}))


def run(args: argparse.Namespace, side: str, op: str, threads: int, weights: str, codes: str, save: str = "") -> dict:
    command = [sys.executable, __file__, "--worker", "--side", side, "--op", op, "--threads", str(threads),
               "--model", args.model, "--images", str(args.images), "--repeats", str(args.repeats),
               "--titok-repo", str(args.titok_repo), "--weights", weights, "--codes", codes, "--save-codes", save]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT))
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"{side} {op} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titok-repo", type=Path, required=True)
    parser.add_argument("--model", choices=RELEASES, default="titok_s128")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="also run each side and operation in its own process "
                        "for peak memory (slow)")
    parser.add_argument("--ceiling", action="store_true", help="one thread, in this process: profile both sides, "
                        "print the kernels they share and the ceiling on the speed-up (benchmarks/ceiling.py)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--side", "--op", "--weights", "--codes", "--save-codes"):
        parser.add_argument(hidden, default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.threads = args.threads[0]
        return interleaved(args) if args.side == "both" else worker(args)

    import torch

    with tempfile.TemporaryDirectory() as tmp:
        weights, ref_codes, port_codes = (os.path.join(tmp, n) for n in ("tokenizer.bin", "ref.pt", "port.pt"))
        torch.save(reference(args.titok_repo, args.model).state_dict(), weights)
        if args.ceiling:
            args.weights = weights
            return ceiling_rows(args)
        print(f"model {args.model} (random weights), {args.images} pictures of 256x256, best of {args.repeats}; "
              f"load average at start {os.getloadavg()[0]:.1f}")
        print("speed, both models in one process, timed alternately (seconds per picture):")
        for threads in args.threads:
            command = [sys.executable, __file__, "--worker", "--side", "both", "--threads", str(threads), "--model",
                       args.model, "--images", str(args.images), "--repeats", str(args.repeats), "--titok-repo",
                       str(args.titok_repo), "--weights", weights]
            env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT))
            done = subprocess.run(command, capture_output=True, text=True, env=env)
            if done.returncode:
                raise SystemExit(f"interleaved run failed:\n{done.stderr[-3000:]}")
            r = json.loads(done.stdout.strip().splitlines()[-1])
            for op in ("encode", "decode"):
                print(f"  {op} {threads} thread(s): reference {r['ref ' + op]:.3f}, tokkit {r['port ' + op]:.3f}, "
                      f"speed-up {r['ref ' + op] / r['port ' + op]:.2f}x; process CPU seconds reference "
                      f"{r['cpu ref ' + op]:.3f}, tokkit {r['cpu port ' + op]:.3f}: {r['cpu ref ' + op] / r['cpu port ' + op]:.2f}x")
            print(f"  codes: {r['equal']} of {r['total']} equal")
        if not args.memory:
            print(f"load average at end {os.getloadavg()[0]:.1f}")
            return
        print("memory (and speed), each side and operation in its own process:")
        print(f"{'op':7} {'threads':>7} {'reference s/img':>16} {'tokkit s/img':>13} {'speed-up':>9} "
              f"{'ref peak MB':>12} {'tokkit peak MB':>15} {'ref max RSS':>12} {'tokkit max RSS':>15}")
        for threads in args.threads:
            for op in ("encode", "decode"):
                theirs = run(args, "reference", op, threads, weights, ref_codes, ref_codes if op == "encode" else "")
                ours = run(args, "tokkit", op, threads, weights, ref_codes, port_codes if op == "encode" else "")
                print(f"{op:7} {threads:>7} {theirs['seconds_per_image']:>16.3f} {ours['seconds_per_image']:>13.3f} "
                      f"{theirs['seconds_per_image'] / ours['seconds_per_image']:>8.2f}x {theirs['peak_mb']:>12.0f} "
                      f"{ours['peak_mb']:>15.0f} {theirs['total_mb']:>12.0f} {ours['total_mb']:>15.0f}")
            a, b = torch.load(ref_codes), torch.load(port_codes)
            print(f"codes: {int((a == b).sum())} of {a.numel()} equal")
        print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
