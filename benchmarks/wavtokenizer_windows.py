"""WavTokenizer's windowed encode (SEANetEncoder.windowed: conv windows, one LSTM carrying its state) against one
whole-file pass, on the full-size 40 tokens/s encoder with seeded random weights and a codebook drawn from its
own latents: differing latents and codes, CPU time and peak memory growth, and a long file's peak memory.

    python benchmarks/wavtokenizer_windows.py 60 600      # 60 s windowed vs whole; then a 600 s windowed encode
    python benchmarks/wavtokenizer_windows.py 61.3 0      # a length off the grid, its last window short
    python benchmarks/wavtokenizer_windows.py 60 0 2      # the comparison with 2 torch threads (default 1)
    python benchmarks/wavtokenizer_windows.py speed 30 5  # CPU time of 5 encodes of a 30 s file (tokkit on PYTHONPATH)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def port():
    import torch

    from tokkit.codecs.audio.published.tokenizer import WavTokenizerTokenizer
    from tokkit.codecs.audio.published.wavtokenizer import WavTokenizerConfig, WavTokenizerModel

    torch.manual_seed(0)
    model = WavTokenizerModel(WavTokenizerConfig(num_layers=1)).eval()  # the encoder is full size; the decoder unused
    tok = WavTokenizerTokenizer(model, device="cpu")
    with torch.inference_mode():  # codebook rows: latents of noise, so codes are spread over the book
        latents = model.latents(noise(4.0 * 4096 / tok.config.frame_rate / 4, 1))[0].T
        model.quantizer.codebook.copy_(latents[torch.randperm(latents.shape[0])[:4096]])
    return tok


def noise(seconds: float, seed: int = 0):
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    return torch.from_numpy((0.1 * rng.standard_normal(int(seconds * 24000))).astype(np.float32))[None]


def compare(seconds: float) -> dict:
    """Windowed (default 30 s windows, 2 s context) vs one pass over the whole file."""
    import torch

    from published_codecs import peak_rss_mb, reset_peak

    tok = port()
    audio = noise(seconds)[0].numpy()
    base = reset_peak()
    t0, w0 = time.process_time(), time.perf_counter()
    windowed = tok.encode_samples(audio)
    windowed_s, windowed_mb = time.process_time() - t0, peak_rss_mb() - base
    windowed_wall = time.perf_counter() - w0
    with torch.inference_mode():
        x = torch.from_numpy(audio)[None, None]
        lat_w = tok.model.encoder.windowed(x, window=tok.window_frames * tok.config.hop,
                                           context=tok.context_frames * tok.config.hop)
    tok.window_frames = 10 ** 9  # one pass
    base = reset_peak()
    t0, w0 = time.process_time(), time.perf_counter()
    whole = tok.encode_samples(audio)
    whole_s, whole_mb = time.process_time() - t0, peak_rss_mb() - base
    whole_wall = time.perf_counter() - w0
    with torch.inference_mode():
        lat = tok.model.latents(torch.from_numpy(audio)[None])
    return {"seconds": seconds, "codes": int(whole.size), "differing_codes": int((windowed != whole).sum()),
            "differing_latents": int((lat_w != lat).sum()), "distinct_codes": int(len(set(whole[0].tolist()))),
            "windowed_cpu_s": round(windowed_s, 2), "whole_cpu_s": round(whole_s, 2),
            "windowed_wall_s": round(windowed_wall, 2), "whole_wall_s": round(whole_wall, 2),
            "windowed_peak_mb": round(windowed_mb), "whole_peak_mb": round(whole_mb)}


def long(seconds: float) -> dict:
    """Peak memory growth and CPU time of one windowed encode (a fresh process per length)."""
    from published_codecs import peak_rss_mb, reset_peak

    tok = port()
    audio = noise(seconds)[0].numpy()
    base = reset_peak()
    t0 = time.process_time()
    codes = tok.encode_samples(audio)
    return {"seconds": seconds, "codes": int(codes.size), "cpu_s": round(time.process_time() - t0, 2),
            "peak_mb": round(peak_rss_mb() - base)}


def speed(seconds: float, repeats: int) -> dict:
    """CPU seconds of each of ``repeats`` encodes of one ``seconds`` file, after one warm-up encode."""
    import tokkit

    tok = port()
    audio = noise(seconds)[0].numpy()
    tok.encode_samples(audio)
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        tok.encode_samples(audio)
        times.append(round(time.process_time() - t0, 3))
    return {"tokkit": tokkit.__file__, "seconds": seconds, "cpu_s": times, "min_cpu_s": min(times)}


if __name__ == "__main__":
    import torch

    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[1] != "speed" else 1)
    if sys.argv[1] == "speed":
        print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
        print(json.dumps(speed(float(sys.argv[2]), int(sys.argv[3]))))
        sys.exit()
    if sys.argv[1] == "long":
        print(json.dumps(long(float(sys.argv[2]))))
        sys.exit()
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print("torch threads:", torch.get_num_threads())
    print("windowed vs whole:", json.dumps(compare(float(sys.argv[1]))))
    for seconds in [float(sys.argv[1])] + [float(sys.argv[2])] * (float(sys.argv[2]) > 0):  # 0: no long run
        out = subprocess.run([sys.executable, __file__, "long", str(seconds)], capture_output=True, text=True)
        print("windowed encode:", out.stdout.strip() or out.stderr[-500:])
