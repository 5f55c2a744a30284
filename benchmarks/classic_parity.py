"""The classic-codec and metric helpers that moved from the quality benchmarks into tokkit.analysis
(metrics_audio, classic/{image,video,shape}) against the benchmarks' own code before the move
(git revision 8462592, read with ``git show``), on synthetic inputs: every figure must be equal.

    python benchmarks/classic_parity.py [--rev 8462592]

Needs a git checkout (the old files come from its history), pystoi, PyAV, DracoPy, fast-simplification.
Codec2/Opus are not compared: the old code needed the Debian tools, which this machine lacks.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", default="8462592", help="git revision with the benchmarks' own helpers")
    args = parser.parse_args()
    import trimesh

    from tokkit.analysis import metrics_audio
    from tokkit.analysis.classic import image as classic_image
    from tokkit.analysis.classic import shape as classic_shape
    from tokkit.analysis.classic import video as classic_video
    from tokkit.codecs.shape.io import Shape, normalise

    with tempfile.TemporaryDirectory() as folder:
        old = {}
        for name in ("audio", "image", "video", "shape"):
            source = subprocess.run(["git", "-C", str(ROOT), "show", f"{args.rev}:benchmarks/{name}_quality.py"],
                                    check=True, capture_output=True, text=True).stdout
            (Path(folder) / f"old_{name}.py").write_text(source)
            old[name] = load(f"old_{name}", Path(folder) / f"old_{name}.py")
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    reference = (0.3 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
                 + 0.02 * rng.standard_normal(t.size)).astype(np.float32)
    decoded = np.roll(reference, 37) + 0.05 * rng.standard_normal(reference.size).astype(np.float32)
    before, after = old["audio"].score(reference, decoded), metrics_audio.audio_scores(reference, decoded)
    print(f"audio STOI / mel / SI-SDR: before {before}, after {after}: {'equal' if before == after else 'DIFFERENT'}")
    failures = int(before != after)
    picture = np.clip(np.add.outer(np.arange(48), np.arange(48))[..., None] * [2, 3, 1]
                      + rng.integers(0, 40, (48, 48, 3)), 0, 255).astype(np.uint8)
    for name, options in old["image"].codecs().items():
        a, b = old["image"].classic_options(picture, options), classic_image.classic_options(picture, classic_image.codecs()[name])
        failures += a != b
        print(f"image {name}: {len(a)} settings (bytes, PSNR, SSIM) {'equal' if a == b else 'DIFFERENT'}")
    clip = np.stack([np.roll(np.tile(picture, (2, 2, 1))[:64, :64], 3 * k, axis=1) for k in range(6)])
    for codec in ("x264", "VP9", "x265", "SVT-AV1"):
        old["video"].SCALES = (64, 48, 32)
        a = old["video"].classic(clip, codec)
        b = classic_video.classic(clip, codec, (1.0, 0.75, 0.5))
        failures += a != b
        print(f"video {codec}: {len(a)} settings (bytes, PSNR, SSIM, flicker) {'equal' if a == b else 'DIFFERENT'}")
    mesh = trimesh.creation.icosphere(3)
    shape, _ = normalise(Shape(np.asarray(mesh.vertices) * [1, 0.6, 0.8], np.asarray(mesh.faces)))
    a, b = old["shape"].classic_candidates(shape), classic_shape.classic_candidates(shape)
    for method in a:
        same = len(a[method]) == len(b[method]) and all(
            x[0] == y[0] and np.array_equal(x[1], y[1]) and np.array_equal(x[2], y[2]) for x, y in zip(a[method], b[method]))
        failures += not same
        print(f"shape {method}: {len(a[method])} candidates (bytes, vertices, faces) {'equal' if same else 'DIFFERENT'}")
    print("all equal" if not failures else f"{failures} DIFFERENT")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
