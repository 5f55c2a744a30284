"""Fuzz every reader of untrusted bytes for a while: token container (with dynamic-merge tables and
per-modality metadata), tokenizer.json, .tiktoken, audio and image readers, per-modality metadata.

A finding is any exception other than a TokkitError, or a peak traced memory above
``MEMORY_FACTOR * input + MEMORY_BASE`` (tests/fuzz_targets.py). Each finding's input is saved under
tests/fuzz_corpus/<target>/ (the CI test replays that folder); executions and findings are printed per target.
Run: ``python benchmarks/fuzz.py --seconds 120`` (per target; one CPU thread). The CI test
tests/test_untrusted_fuzz.py runs the same targets for a few seconds each.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import torch  # noqa: E402

from fuzz_targets import TARGETS, mutate, run_one, seeds_warm  # noqa: E402

CORPUS = ROOT / "tests" / "fuzz_corpus"


def fuzz(name: str, seconds: float, seed: int, save: bool) -> tuple[int, dict[str, str]]:
    """Mutate ``name``'s seeds for ``seconds``; return executions and findings (signature -> saved file)."""
    rng = random.Random(seed)
    seeds = seeds_warm(name)
    pool = list(seeds)
    findings: dict[str, str] = {}
    executions = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        data = mutate(rng.choice(pool), rng)
        executions += 1
        finding = run_one(name, data)
        if finding is None:
            if len(pool) < 256 and rng.random() < 0.05:
                pool.append(data)  # keep some survivors: mutations of mutations go deeper
            continue
        signature = finding.split(":")[0] + ":" + finding[:80]
        if signature in findings:
            continue
        path = CORPUS / name / f"{hashlib.sha256(data).hexdigest()[:16]}.bin"
        if save:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        findings[signature] = str(path.relative_to(ROOT))
        print(f"  {name}: {finding[:160]} -> {path.relative_to(ROOT)}", flush=True)
    return executions, findings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="per target")
    parser.add_argument("--targets", nargs="*", default=sorted(TARGETS), choices=sorted(TARGETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-save", action="store_true", help="do not write findings to tests/fuzz_corpus")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"fuzzing {', '.join(args.targets)} for {args.seconds:g} s each (seed {args.seed})", flush=True)
    total = 0
    for name in args.targets:
        start = time.monotonic()
        executions, findings = fuzz(name, args.seconds, args.seed, not args.no_save)
        total += executions
        rate = executions / max(time.monotonic() - start, 1e-9)
        print(f"{name:15s} {executions:7d} executions ({rate:6.1f}/s), {len(findings)} findings", flush=True)
    print(f"total {total} executions")


if __name__ == "__main__":
    main()
