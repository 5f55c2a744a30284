"""Audio codec batching: ``encode_batch`` / ``decode_batch`` (padded, masked batches) beside the plain loop.

    python benchmarks/audio_batch.py [--model audio|DIR] [--clips 16] [--seconds 1 4] [--threads 2] [--repeats 3]

The anchor is the loop the base class ran before real batching (``[encode(x) for x in clips]``, one forward
pass per clip), on the same synthetic speech-like clips (lengths spread evenly over --seconds) in the same run.
Prints the best of --repeats wall times, the ratio loop/batch, and checks that both give the same codes
(and audio within float rounding). Say what else ran on the machine: the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tokkit  # noqa: E402
from tokkit.codecs.audio.io import Audio  # noqa: E402


def speechlike(seconds: float, rate: int, rng: np.random.Generator) -> Audio:
    """Harmonics of a wandering pitch under a 4 Hz syllable envelope, plus a little noise."""
    t = np.arange(int(seconds * rate)) / rate
    pitch = 100 + 80 * rng.random() + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voice = sum(np.sin(k * phase + rng.random()) / k for k in range(1, 8))
    envelope = 0.3 + 0.7 * np.sin(2 * np.pi * 4 * t + rng.random()) ** 2
    return Audio((0.15 * envelope * voice + 0.005 * rng.standard_normal(t.size)).astype(np.float32), rate)


def best_time(run, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="audio")
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--seconds", type=float, nargs=2, default=(1.0, 4.0), metavar=("MIN", "MAX"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    codec = tokkit.load(args.model, device="cpu")
    rng = np.random.default_rng(0)
    rate = codec.config.sample_rate
    clips = [speechlike(s, rate, rng) for s in np.linspace(*args.seconds, args.clips)]
    total = sum(clip.duration for clip in clips)
    print(f"conditions: {os.cpu_count()} cores, torch threads {args.threads}, load average "
          f"{os.getloadavg()[0]:.1f} at start; {args.clips} clips, {total:.1f} s of audio, model {args.model}")

    loop_enc, loop_tokens = best_time(lambda: [codec.encode(clip) for clip in clips], args.repeats)
    batch_enc, batch_tokens = best_time(lambda: codec.encode_batch(clips), args.repeats)
    same_codes = all(np.array_equal(a.codes, b.codes) for a, b in zip(loop_tokens, batch_tokens))
    loop_dec, loop_audio = best_time(lambda: [codec.decode(tokens) for tokens in loop_tokens], args.repeats)
    batch_dec, batch_audio = best_time(lambda: codec.decode_batch(loop_tokens), args.repeats)
    audio_diff = max(float(np.abs(a.samples - b.samples).max()) for a, b in zip(loop_audio, batch_audio))

    print(f"encode: loop {loop_enc:.2f} s ({total / loop_enc:.1f}x real time), batch {batch_enc:.2f} s "
          f"({total / batch_enc:.1f}x real time): batch is {loop_enc / batch_enc:.2f}x the loop's speed; "
          f"same codes: {same_codes}")
    print(f"decode: loop {loop_dec:.2f} s ({total / loop_dec:.1f}x real time), batch {batch_dec:.2f} s "
          f"({total / batch_dec:.1f}x real time): batch is {loop_dec / batch_dec:.2f}x the loop's speed; "
          f"largest sample difference {audio_diff:.1e}")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
