"""DAC and SNAC rows of benchmarks/published_codecs.py: the authors' models (full-size released architectures,
seeded random weights) and tokkit's ports of the same state dicts, timed by published_codecs.py's workers.

    PYTHONPATH=. /work/venvs/dacsnac/bin/python benchmarks/published_codecs.py --codecs dac_44khz snac_24khz \\
        --seconds 3 --threads 1 2 --repeats 1

Needs the reference packages (``descript-audio-codec``, ``snac``: see scripts/make_dac_snac_fixtures.py).
Weights: the authors' own initialisation, then unit-norm weight-normed rows and small biases (their init makes
the signal vanish; see ``realistic_gains``); codebooks are the authors' random ones (the lookup cost does
not depend on their values). Speech: samples/speech.wav resampled to the model rate and repeated.
Encode uses every codebook; decode runs on random codes of the same shape. ``parity``: full-size codes of
the port against the reference's (near-ties counted) and audio on the reference's codes. Long files:
``python benchmarks/published_dac_snac.py windows snac_24khz 30`` compares 10 s windows with one whole-file window.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

#: codec -> (reference family, constructor arguments)
CODECS = {
    "dac_44khz": ("dac", dict(sample_rate=44100)),  # the 8 kbps release: the DAC() defaults
    "dac_24khz": ("dac", dict(encoder_rates=[2, 4, 5, 8], decoder_rates=[8, 5, 4, 2], n_codebooks=32, sample_rate=24000)),
    "snac_24khz": ("snac", None),  # the released config.json (make_dac_snac_fixtures.SNAC_24KHZ)
}


def rate_of(codec: str) -> int:
    family, kwargs = CODECS[codec]
    return kwargs["sample_rate"] if family == "dac" else 24000


def speech(codec: str, seconds: float):
    """samples/speech.wav at the codec's rate, repeated to ``seconds``."""
    import numpy as np
    from make_dac_snac_fixtures import speech as read

    rate = rate_of(codec)
    mono = read(rate, 1e9)
    return np.tile(mono, math.ceil(seconds * rate / mono.size))[: int(seconds * rate)]


def reference(codec: str):
    """The authors' model (eval mode, seeded)."""
    import torch
    from make_dac_snac_fixtures import SNAC_24KHZ, realistic_gains

    family, kwargs = CODECS[codec]
    torch.manual_seed(0)
    if family == "dac":
        import dac

        model = dac.DAC(**kwargs).eval()
    else:
        from snac import SNAC

        model = SNAC(**SNAC_24KHZ).eval()
    with torch.no_grad():
        realistic_gains(model, torch.Generator().manual_seed(1))
    return model


def port_of(codec: str, model):
    """tokkit's port of the reference's state dict, as ``tokkit.load`` builds it from the authors' files."""
    family, _ = CODECS[codec]
    if family == "dac":
        from tokkit.codecs.audio.published.dac import from_reference
        from tokkit.codecs.audio.published.windowed import DACTokenizer

        extras = {f"metadata.kwargs.{k}": v for k, v in CODECS[codec][1].items()}
        return DACTokenizer(from_reference(model.state_dict(), "benchmark", extras=extras), device="cpu")
    from make_dac_snac_fixtures import SNAC_24KHZ

    from tokkit.codecs.audio.published.snac import from_reference
    from tokkit.codecs.audio.published.windowed import SNACTokenizer

    return SNACTokenizer(from_reference(model.state_dict(), "benchmark", hf_config=SNAC_24KHZ), device="cpu")


def worker(codec: str, impl: str, op: str, seconds: float):
    """(objects kept alive, the timed callable) for one measurement."""
    import numpy as np
    import torch

    model = reference(codec)
    port = port_of(codec, model)
    audio = speech(codec, seconds)
    rng = np.random.default_rng(0)
    size = port.codebook_size
    columns = math.ceil(audio.size / (port.config.hop * port.model.align_frames)) * port.model.align_frames
    codes = rng.integers(0, size, (port.config.rows(port.config.n_q) if CODECS[codec][0] == "snac" else port.config.n_q,
                                   columns))
    if impl == "tokkit":
        del model
        n_q = port.config.n_q
        return port, (lambda: port.encode_samples(audio, n_q)) if op == "encode" else (lambda: port.decode_codes(codes))
    x = torch.from_numpy(audio)[None, None]
    if CODECS[codec][0] == "dac":
        theirs = torch.from_numpy(codes)[None]

        def run():
            with torch.inference_mode():
                if op == "encode":
                    return model.encode(model.preprocess(x, model.sample_rate))
                return model.decode(model.quantizer.from_codes(theirs)[0])
    else:
        levels = [level for level in port.model._split(torch.from_numpy(codes)[None])]

        def run():
            with torch.inference_mode():
                return model.encode(x) if op == "encode" else model.decode(levels)
    return model, run


def parity(codec: str, seconds: float) -> dict:
    """Full-size codes of the port against the reference's (a code after a near-tie of its frame, gap <= 1e-3
    in the reference's own distances, is counted, not compared) and audio decoded from the reference's codes."""
    import numpy as np
    import torch
    from make_dac_snac_fixtures import normalized_gaps

    model = reference(codec)
    port = port_of(codec, model)
    audio = speech(codec, seconds)
    x = torch.from_numpy(audio)[None, None]
    compared = differ = skipped = 0
    with torch.inference_mode():
        if CODECS[codec][0] == "dac":
            latents = model.encoder(model.preprocess(x, model.sample_rate))
            _, codes, *_ = model.encode(model.preprocess(x, model.sample_rate))
            residual, gaps = latents[0].t(), []
            for level, quantizer in enumerate(model.quantizer.quantizers):
                gap, chosen = normalized_gaps(quantizer, residual)
                gaps.append(gap)
                residual = residual - quantizer.out_proj(quantizer.decode_code(chosen[None]))[0].t()
            ours = port.encode_samples(audio, port.config.n_q)
            theirs = codes[0].numpy()
            for frame in range(theirs.shape[1]):
                for level in range(theirs.shape[0]):
                    if gaps[level][frame] <= 1e-3:
                        skipped += theirs.shape[0] - level
                        break
                    compared += 1
                    differ += int(ours[level, frame] != theirs[level, frame])
            theirs_audio = model.decode(model.quantizer.from_codes(codes)[0])[0, 0].numpy()
            ours_audio = port.decode_codes(theirs)
        else:
            codes = model.encode(x)
            ours = [level[0].numpy() for level in port.model._split(torch.from_numpy(port.encode_samples(audio, 3))[None])]
            latents = model.encoder(model.preprocess(x))
            residual, tied = latents, np.zeros(latents.shape[-1], bool)
            for level, quantizer in enumerate(model.quantizer.quantizers):
                pooled = torch.nn.functional.avg_pool1d(residual, quantizer.stride, quantizer.stride)
                gap, chosen = normalized_gaps(quantizer, pooled[0].t())
                for index, value in enumerate(codes[level][0].numpy()):
                    span = slice(index * quantizer.stride, (index + 1) * quantizer.stride)
                    if tied[span].any() or gap[index] <= 1e-3:
                        tied[span] = True
                        skipped += 1
                        continue
                    compared += 1
                    differ += int(ours[level][index] != value)
                residual = residual - quantizer.out_proj(quantizer.decode_code(chosen[None])).repeat_interleave(
                    quantizer.stride, -1)
            torch.manual_seed(7)
            theirs_audio = model.decode(codes)[0, 0].numpy()
            both = port.model._interleave([level for level in codes])
            ours_audio = port.model.decode(both, torch.Generator().manual_seed(7))[0].numpy()
    return {"codes_compared": compared, "codes_differing_where_decided": differ, "codes_after_near_ties": skipped,
            "audio_max_rel_diff": float(np.abs(ours_audio - theirs_audio).max() / np.abs(theirs_audio).max())}


def windows(codec: str, seconds: float) -> dict:
    """tokkit's port on one long file: 10 s windows (the default) against one window over the whole file: codes
    that differ (float rounding of different conv lengths can flip only near-ties), time and peak memory growth."""
    import time

    from published_codecs import peak_rss_mb, reset_peak

    port = port_of(codec, reference(codec))
    audio = speech(codec, seconds)
    n_q = port.config.n_q
    base = reset_peak()
    start = time.perf_counter()
    windowed = port.encode_samples(audio, n_q)
    windowed_s, windowed_mb = time.perf_counter() - start, peak_rss_mb() - base
    port.window_samples = 10 ** 12  # one window
    base = reset_peak()
    start = time.perf_counter()
    whole = port.encode_samples(audio, n_q)
    whole_s, whole_mb = time.perf_counter() - start, peak_rss_mb() - base
    return {"codec": codec, "seconds": seconds, "codes": int(whole.size), "differing_codes": int((windowed != whole).sum()),
            "windowed_s": windowed_s, "whole_s": whole_s, "windowed_peak_mb": windowed_mb, "whole_peak_mb": whole_mb}


if __name__ == "__main__":  # python benchmarks/published_dac_snac.py windows CODEC SECONDS
    import json

    import torch

    torch.set_num_threads(1)
    print(json.dumps(windows(sys.argv[2], float(sys.argv[3]))))
