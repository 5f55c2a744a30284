"""tokkit.quant against vector-quantize-pytorch and a plain matmul: same inputs, same run.

Prints encode throughput (vectors/s) for VQ 4096x512, RVQ 8x1024x128 and FSQ [8,5,5,5], nearest-code
GFLOP/s against a plain torch matmul of the same shape, and the peak extra memory of one search
(measured as the VmHWM rise in a fresh subprocess) against the chunk arithmetic. Every timing is the
best of ``--repeats`` rounds in which tokkit and its anchor alternate, so ratios compare like with like.

    python benchmarks/quant.py [--repeats 3] [--threads N] [--device auto|cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from tokkit.quant import FSQ, RVQ, VQ, FSQConfig, RVQConfig, VQConfig, nearest


def best_times(fns: list[Callable[[], object]], repeats: int, device: torch.device) -> list[float]:
    """Best wall time of each function over ``repeats`` rounds after a warm-up; the functions
    alternate within each round, so load from other processes hits them alike."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def row(name: str, ours: float, theirs: float, unit: str, target: float) -> dict[str, object]:
    ratio = ours / theirs
    verdict = "ok" if ratio >= target else "BELOW TARGET"
    print(f"{name:<30} {ours:>12,.0f} {theirs:>12,.0f} {unit:<10} {ratio:>7.2f}x  >= {target:g}x  {verdict}")
    return {"name": name, "tokkit": ours, "anchor": theirs, "unit": unit, "ratio": ratio, "target": target}


def adjudicate(x: torch.Tensor, codebooks: list[torch.Tensor], ours: torch.Tensor, theirs: torch.Tensor) -> str:
    """Where the two disagree, which index is nearer in float64 at the first differing level."""
    x = x.reshape(-1, x.shape[-1])
    ours, theirs = ours.reshape(x.shape[0], -1), theirs.reshape(x.shape[0], -1)
    rows = (ours != theirs).any(1).nonzero().squeeze(1).tolist()
    ours_right = 0
    for r in rows:
        level = int((ours[r] != theirs[r]).nonzero()[0])
        residual = x[r].clone()
        for j in range(level):
            residual = residual - codebooks[j][ours[r, j]]
        residual = residual.double()
        mine = (residual - codebooks[level][ours[r, level]].double()).square().sum()
        other = (residual - codebooks[level][theirs[r, level]].double()).square().sum()
        ours_right += bool(mine < other or (mine == other and ours[r, level] < theirs[r, level]))
    return f"{len(rows)} of {x.shape[0]} rows differ; float64 sides with tokkit on {ours_right}"


def bench_vq(n: int, repeats: int, device: torch.device) -> dict[str, object]:
    from vector_quantize_pytorch import VectorQuantize

    torch.manual_seed(0)
    reference = VectorQuantize(dim=512, codebook_size=4096).eval().to(device)
    ours = VQ(VQConfig(codebook_size=4096, dim=512)).eval().to(device)
    ours.load_state_dict({"codebook": reference._codebook.embed[0].clone()})
    x = torch.randn(8, n // 8, 512, device=device)
    with torch.no_grad():
        agree = adjudicate(x, [ours.codebook], ours.encode(x), reference(x)[1])
        t_ours, t_ref = best_times([lambda: ours.encode(x), lambda: reference(x)], repeats, device)
    out = row("VQ 4096x512 encode", n / t_ours, n / t_ref, "vectors/s", 5)
    out["indices_equal"] = agree
    return out


def bench_rvq(n: int, repeats: int, device: torch.device) -> dict[str, object]:
    from vector_quantize_pytorch import ResidualVQ

    torch.manual_seed(0)
    reference = ResidualVQ(dim=128, num_quantizers=8, codebook_size=1024).eval().to(device)
    ours = RVQ(RVQConfig(depth=8, codebook_size=1024, dim=128)).eval().to(device)
    ours.load_state_dict({f"levels.{i}.codebook": layer._codebook.embed[0].clone()
                          for i, layer in enumerate(reference.layers)})
    x = torch.randn(8, n // 8, 128, device=device)
    with torch.no_grad():
        agree = adjudicate(x, [vq.codebook for vq in ours.levels], ours.encode(x), reference(x)[1])
        t_ours, t_ref = best_times([lambda: ours.encode(x), lambda: reference(x)], repeats, device)
    out = row("RVQ 8x1024x128 encode", n / t_ours, n / t_ref, "vectors/s", 5)
    out["indices_equal"] = agree
    return out


def bench_fsq(n: int, repeats: int, device: torch.device) -> dict[str, object]:
    from vector_quantize_pytorch import FSQ as ReferenceFSQ

    reference = ReferenceFSQ(levels=[8, 5, 5, 5]).eval().to(device)
    ours = FSQ(FSQConfig(levels=[8, 5, 5, 5])).eval().to(device)
    x = 2 * torch.randn(8, n // 8, 4, device=device)
    with torch.no_grad():
        same = torch.equal(ours.encode(x), reference(x)[1].long())
        agree = "all rows equal" if same else "rows differ"
        t_ours, t_ref = best_times([lambda: ours.encode(x), lambda: reference(x)], repeats, device)
    out = row("FSQ [8,5,5,5] encode", n / t_ours, n / t_ref, "vectors/s", 1)
    out["indices_equal"] = agree
    return out


def bench_nearest(n: int, repeats: int, device: torch.device) -> list[dict[str, object]]:
    results = []
    for k, d in ((4096, 512), (1024, 128)):
        torch.manual_seed(0)
        x = torch.randn(n, d, device=device)
        codebook = torch.randn(k, d, device=device)
        flops = 2.0 * n * k * d
        t_near, t_mm = best_times(
            [lambda x=x, codebook=codebook: nearest(x, codebook), lambda x=x, codebook=codebook: x @ codebook.T],
            repeats, device,
        )
        results.append(row(f"nearest {n}x{d} vs {k} codes", flops / t_near / 1e9, flops / t_mm / 1e9,
                           "GFLOP/s", 0.7))
    return results


_CHILD = """
import sys, json, torch
sys.path.insert(0, {root!r})
torch.manual_seed(0)
n, k, d, chunk, which = {n}, {k}, {d}, {chunk}, {which!r}
x = torch.randn(n, d); codebook = torch.randn(k, d)
if which == "vqp":
    from vector_quantize_pytorch import VectorQuantize
    ref = VectorQuantize(dim=d, codebook_size=k).eval()
    ref._codebook.embed.copy_(codebook[None])
    run = lambda: ref(x[None])
else:
    from tokkit.quant import nearest
    run = lambda: nearest(x, codebook, chunk=chunk)
with torch.no_grad():
    run()
    def rss(key):
        return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(key)) * 1024
    base = rss("VmRSS")
    open("/proc/self/clear_refs", "w").write("5")
    run()
    print(json.dumps(rss("VmHWM") - base))
"""


def peak_extra_bytes(n: int, k: int, d: int, chunk: int, which: str) -> int:
    """VmHWM rise of one search (after a warm-up call) in a fresh process."""
    root = str(Path(__file__).resolve().parents[1])
    code = _CHILD.format(root=root, n=n, k=k, d=d, chunk=chunk, which=which)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(json.loads(done.stdout.strip().splitlines()[-1]))


def bench_memory() -> list[dict[str, object]]:
    n, k, d = 16384, 4096, 512
    mib = 1 << 20
    full = n * k * 4
    print(f"\npeak extra memory of one search, {n}x{d} vectors vs {k} codes (full distance matrix: {full / mib:.0f} MiB)")
    print("bound = chunk*K*9 (4 scores + 2 bf16 products + 1 mask + 1 candidate rows + block minima)"
          " + chunk*d*6 (rows, bf16 rows) + K*d*6 (padded codebook copies) + 8 MiB (re-check scratch, vectors)")
    print(f"{'search':<34} {'measured':>10} {'bound':>12}")
    results = []
    for chunk in (256, 1024, 4096):
        bound = chunk * k * 9 + chunk * d * 6 + k * d * 6 + 8 * mib
        measured = peak_extra_bytes(n, k, d, chunk, "tokkit")
        verdict = "ok" if measured <= bound else "ABOVE BOUND"
        print(f"{'tokkit nearest, chunk=' + str(chunk):<34} {measured / mib:>8.1f}Mi {bound / mib:>10.1f}Mi  {verdict}")
        results.append({"chunk": chunk, "measured_bytes": measured, "bound_bytes": bound})
    measured = peak_extra_bytes(n, k, d, 0, "vqp")
    print(f"{'vector-quantize-pytorch VQ':<34} {measured / mib:>8.1f}Mi {'(none)':>12}")
    results.append({"chunk": None, "which": "vector-quantize-pytorch", "measured_bytes": measured})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure; the best is kept")
    parser.add_argument("--device", default="auto", help="auto (cuda when present), cpu or cuda")
    parser.add_argument("--n", type=int, default=16384, help="vectors per VQ/RVQ/nearest run (FSQ uses 32x)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--skip-memory", action="store_true", help="skip the subprocess memory measurement")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, best of {args.repeats}")
    print(f"{'':<30} {'tokkit':>12} {'anchor':>12} {'unit':<10} {'ratio':>8}  target")
    results = {
        "vq": bench_vq(args.n, args.repeats, device),
        "rvq": bench_rvq(args.n, args.repeats, device),
        "fsq": bench_fsq(32 * args.n, args.repeats, device),
        "nearest": bench_nearest(args.n, args.repeats, device),
    }
    print("(anchors: vector-quantize-pytorch eval forward for VQ/RVQ/FSQ; plain x @ codebook.T for nearest)")
    for name in ("vq", "rvq", "fsq"):
        print(f"indices vs vector-quantize-pytorch, {name}: {results[name]['indices_equal']}")
    if not args.skip_memory and device.type == "cpu":
        results["memory"] = bench_memory()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
