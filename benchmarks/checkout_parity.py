"""Behaviour parity between two checkouts: the built-in tokenizers' codes, decoded outputs and hashes.

    PYTHONPATH=/path/to/old python benchmarks/checkout_parity.py --save old.npz
    PYTHONPATH=/path/to/new python benchmarks/checkout_parity.py --save new.npz --compare old.npz

Synthetic inputs (tones under a syllable envelope at 24 and 16 kHz, noise pictures of two sizes at two
token counts, a short text). Prints, per array, whether the two checkouts agree exactly; exits 1 if not.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from PIL import Image


def outputs() -> dict[str, np.ndarray]:
    import torch

    import tokkit
    from tokkit.codecs.audio.io import Audio

    torch.set_num_threads(1)
    rng = np.random.default_rng(5)
    out: dict[str, np.ndarray] = {}
    audio = tokkit.load("audio")
    t = np.arange(int(24000 * 2.5)) / 24000
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    clips = [Audio((0.2 * np.sin(2 * np.pi * 150 * t * (1 + 0.1 * k)) * envelope
                    + 0.01 * rng.standard_normal(t.size)).astype(np.float32), 24000) for k in range(2)]
    clips.append(Audio(clips[0].samples[:16000], 16000))
    for index, clip in enumerate(clips):
        tokens = audio.encode(clip)
        out[f"audio{index}"], out[f"audio{index}_decoded"] = tokens.codes, audio.decode(tokens).samples
    image = tokkit.load("image")
    for index in range(2):
        picture = Image.fromarray((rng.random((40 + 10 * index, 50, 3)) * 255).astype(np.uint8))
        tokens = image.encode(picture, tokens=8 + 8 * index)
        out[f"image{index}"], out[f"image{index}_decoded"] = tokens.codes, np.asarray(image.decode(tokens))
    text = tokkit.load("text")
    out["text"] = text.encode("Hello, world! café ünïcode").codes
    out["hashes"] = np.array([audio.identity["hash"], image.identity["hash"], text.identity["hash"]])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", required=True, help="write this checkout's arrays here (.npz)")
    parser.add_argument("--compare", help="an .npz another checkout saved")
    args = parser.parse_args()
    out = outputs()
    np.savez(args.save, **out)
    if args.compare:
        old = np.load(args.compare)
        same = {key: bool(key in out and np.array_equal(old[key], out[key])) for key in old.files}
        print(same)
        identical = all(same.values()) and set(old.files) == set(out)
        print("identical" if identical else "DIFFERENT")
        sys.exit(0 if identical else 1)


if __name__ == "__main__":
    main()
