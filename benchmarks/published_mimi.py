"""Mimi rows of benchmarks/published_codecs.py: Kyutai's ``moshi`` Mimi (the published architecture, seeded random
weights) and tokkit's port of the same state dict, timed by published_codecs.py's workers.

    PYTHONPATH=. /work/venvs/mimi/bin/python benchmarks/published_codecs.py --codecs mimi \\
        --seconds 10 --threads 1 2 --repeats 1
    PYTHONPATH=. /work/venvs/mimi/bin/python benchmarks/published_mimi.py long 120   # bounded-memory stream

Needs the reference package (``moshi``: see scripts/make_mimi_fixtures.py). Weights: moshi's own init with the
layer scales, norms and codebooks set as the fixture script does (codebooks from latents of the speech, one
shift only: the timing does not depend on the code values). Speech: samples/speech.wav resampled to 24 kHz and repeated. Encode keeps 8 codebooks (what Moshi
uses): the reference's non-streaming ``encode`` of the whole file against tokkit's stream on its 10 s grid;
decode runs on random codes of the same shape. ``parity``: the full-size port against the reference on
the same speech (latents, codes with near-ties counted, audio on the reference's codes). ``long``: tokkit's
stream on a long file, its peak memory growth against a 10 s file's, and its codes against a stream on a
1.2 s grid (the reference's whole-file attention over a long file would need T^2 memory, so it is not run).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

CODECS = {"mimi": 8}  # codec -> codebooks kept


def speech(seconds: float):
    """samples/speech.wav at 24 kHz, repeated to ``seconds``."""
    import numpy as np

    from make_audio_port_fixtures import speech_24k

    mono = speech_24k(1e9)
    return np.tile(mono, -(-int(seconds * 24000) // mono.size))[: int(seconds * 24000)]


def reference(codec: str = "mimi"):
    """moshi's Mimi, the published config, seeded random weights made to carry signal (the fixture script's)."""
    from moshi.models.loaders import _mimi_config

    from make_mimi_fixtures import FULL_GAIN, build

    model = build(_mimi_config, seed=10, gain=FULL_GAIN, shifts=1)  # speed does not depend on the code values
    model.set_num_codebooks(CODECS[codec])
    return model


def port_of(model):
    from make_mimi_fixtures import published_names
    from tokkit.codecs.audio.published.mimi import from_reference
    from tokkit.codecs.audio.published.tokenizer import MimiTokenizer

    return MimiTokenizer(from_reference(published_names(model.state_dict()), "benchmark"), device="cpu")


def worker(codec: str, impl: str, op: str, seconds: float):
    """(objects kept alive, the timed callable) for one measurement."""
    import numpy as np
    import torch

    model = reference(codec)
    n_q = CODECS[codec]
    audio = speech(seconds)
    codes = np.random.default_rng(0).integers(0, 2048, (n_q, -(-audio.size // 1920)))
    if impl == "tokkit":
        port = port_of(model)
        del model
        return port, (lambda: port.encode_samples(audio, n_q)) if op == "encode" else (lambda: port.decode_codes(codes))
    x, c = torch.from_numpy(audio)[None, None], torch.from_numpy(codes)[None]

    def run():
        with torch.no_grad():
            return model.encode(x) if op == "encode" else model.decode(c)
    return model, run


def parity(codec: str, seconds: float) -> dict:
    """Full size, reference vs port on the same speech (see make_mimi_fixtures.full_check)."""
    from make_mimi_fixtures import full_check

    return full_check(seconds)


def long(seconds: float) -> dict:
    """tokkit's stream on a long file: peak RSS growth against a 10 s file, codes against a 1.2 s grid."""
    import time

    import numpy as np

    from published_codecs import peak_rss_mb, reset_peak

    port = port_of(reference())
    out = {"seconds": seconds}
    for name, length in (("short", 10.0), ("long", seconds)):
        audio = speech(length)
        base = reset_peak()
        start = time.perf_counter()
        codes = port.encode_samples(audio, 8)
        out[f"{name}_encode_s"] = time.perf_counter() - start
        out[f"{name}_encode_peak_mb"] = peak_rss_mb() - base
        base = reset_peak()
        start = time.perf_counter()
        port.decode_codes(codes)
        out[f"{name}_decode_s"] = time.perf_counter() - start
        out[f"{name}_decode_peak_mb"] = peak_rss_mb() - base
    port.chunk_samples = 15 * 1920
    fine = port.encode_samples(audio, 8)
    out.update(codes=int(codes.size), differing_from_fine_grid=int((fine != codes).sum()))
    return out


if __name__ == "__main__":
    import json

    import torch

    torch.set_num_threads(1)
    if sys.argv[1:2] != ["long"]:
        sys.exit("usage: published_mimi.py long SECONDS")
    print(json.dumps(long(float(sys.argv[2]))))
