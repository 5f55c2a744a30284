"""Speed and memory of tokkit's published-codec ports against the authors' code, same model, same speech.

    PYTHONPATH=. /work/venvs/audioports/bin/python benchmarks/published_codecs.py [--seconds 20]
        [--threads 1 2] [--long-seconds 600] [--json]
    WAVTOKENIZER_REF=/path/to/WavTokenizer PYTHONPATH=. /work/venvs/wavtok/bin/python \
        benchmarks/published_codecs.py --codecs wavtokenizer40 wavtokenizer75 [--seconds 20] [--threads 1 2]
    PYTHONPATH=. /work/venvs/dacsnac/bin/python benchmarks/published_codecs.py --codecs dac_44khz snac_24khz \
        [--seconds 3] [--threads 1 2]     (DAC and SNAC: see benchmarks/published_dac_snac.py)
    PYTHONPATH=. /work/venvs/mimi/bin/python benchmarks/published_codecs.py --codecs mimi \
        [--seconds 10] [--threads 1 2]    (Mimi: see benchmarks/published_mimi.py)
    ... [--interleaved]   both implementations in one process per thread count, timed alternately
    ... --ceiling [--ops encode decode]   one thread: both sides profiled, the kernels they share and the most
        any exact float32 port could gain over the reference (see benchmarks/ceiling.py)
    ... --interleaved --reference-heap   and the reference also inside tokkit.core.device.reuse_freed_memory
        (with TOKKIT_REUSE_MEMORY=1 tokkit's ports reuse freed heap memory during a call; this gives the reference the same)

Needs the reference packages (a scratch venv, see scripts/make_audio_port_fixtures.py); tokkit itself
does not. Model: the full-size EnCodec 24 kHz architecture with seeded random weights, codebooks
re-initialised from latents of the speech (random codebooks would make every code the same).
Speech: samples/speech.wav (the project's own espeak sample), resampled to 24 kHz and repeated to
``--seconds``. Each (implementation, operation, threads) runs in a fresh process: real-time factor =
wall time / audio duration (best of ``--repeats``), peak memory = the process's peak RSS growth over
its state after loading the model. Encode runs at 24 kbps (all 32 codebooks), decode on those codes.
WavTokenizer (``--codecs wavtokenizer40 wavtokenizer75``): the authors' code from a checkout of their
repository (WAVTOKENIZER_REF) built from their two released yaml configs with seeded random weights, the
4096-code codebook drawn from latents of the speech plus noise; encode = their ``encode_infer``, decode
= ``codes_to_features`` + ``decode`` (bandwidth id 0), tokkit's port from the same state dict.
``--long-seconds`` (EnCodec only): a long file encoded by tokkit's stream (10 s pieces) against the reference's
whole-file pass, counting differing codes (the reference's own float32 near-ties flip; see the note).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import published_dac_snac as dac_snac  # noqa: E402  (DAC and SNAC rows)
import published_mimi as mimi_rows  # noqa: E402  (Mimi rows)

DAC_SNAC = dac_snac.CODECS
MIMI = mimi_rows.CODECS


def speech(seconds: float):
    import numpy as np
    import soundfile as sf
    from scipy.signal import resample_poly

    audio, rate = sf.read(ROOT / "samples" / "speech.wav", dtype="float32", always_2d=True)
    g = math.gcd(rate, 24000)
    mono = resample_poly(audio.mean(axis=1), 24000 // g, rate // g).astype(np.float32)
    reps = math.ceil(seconds * 24000 / mono.size)
    return np.tile(mono, reps)[: int(seconds * 24000)]


def reference_model():
    """The reference EnCodec 24 kHz with seeded random weights and speech-initialised codebooks: random
    residuals of each level plus 5% noise (exact copies of frames would leave zero residuals and ties)."""
    import torch
    import encodec

    torch.manual_seed(0)
    model = encodec.EncodecModel.encodec_model_24khz(pretrained=False).eval()
    with torch.no_grad():
        residual = model.encoder(torch.from_numpy(speech(8.0))[None, None]).transpose(1, 2).reshape(-1, 128)
        generator = torch.Generator().manual_seed(1)
        for layer in model.quantizer.vq.layers:
            book = layer._codebook
            picks = residual[torch.randint(residual.shape[0], (1024,), generator=generator)]
            noise = torch.randn(picks.shape, generator=generator) * 0.05 * float(residual.std())
            book.embed.copy_(picks + noise)
            book.inited.fill_(1.0)
            residual = residual - book.embed[book.quantize(residual)]
    return model


WAVTOKENIZER_YAML = {"wavtokenizer40": "wavtokenizer_smalldata_frame40_3s_nq1_code4096_dim512_kmeans200_attn.yaml",
                     "wavtokenizer75": "wavtokenizer_smalldata_frame75_3s_nq1_code4096_dim512_kmeans200_attn.yaml"}


def wavtokenizer_reference(codec: str):
    """The authors' WavTokenizer (their yaml) with seeded random weights and a speech-drawn codebook."""
    import torch

    ref = os.environ.get("WAVTOKENIZER_REF")
    if not ref or not Path(ref, "configs", WAVTOKENIZER_YAML[codec]).is_file():
        sys.exit("set WAVTOKENIZER_REF to a checkout of github.com/jishengpeng/WavTokenizer (with configs/)")
    sys.path.insert(0, ref)
    from decoder.pretrained import WavTokenizer

    torch.manual_seed(0)
    model = WavTokenizer.from_hparams0802(str(Path(ref, "configs", WAVTOKENIZER_YAML[codec]))).eval()
    encodec_model = model.feature_extractor.encodec
    with torch.no_grad():
        # random weights give latents ~1e-3 that barely move from frame to frame; trained ones are O(1): the last
        # conv is rescaled to zero-mean, unit-spread latents so that float32 distances separate codes
        x = torch.from_numpy(speech(8.0))[None, None]
        before = encodec_model.encoder(x)
        last = encodec_model.encoder.model[-1].conv.conv
        mean = before.mean(dim=(0, 2))
        gain = 1.0 / float((before - mean[:, None]).std())
        last.weight_g.mul_(gain)
        last.bias.sub_(mean).mul_(gain)
        latents = encodec_model.encoder(x).transpose(1, 2).reshape(-1, 512)
        generator = torch.Generator().manual_seed(1)
        book = encodec_model.quantizer.vq.layers[0]._codebook
        picks = latents[torch.randint(latents.shape[0], (book.codebook_size,), generator=generator)]
        book.embed.copy_(picks + torch.randn(picks.shape, generator=generator) * 0.05 * float(latents.std()))
        book.inited.fill_(1.0)
    return model


def port_of(model):
    from tokkit.codecs.audio.published.encodec import from_reference
    from tokkit.codecs.audio.published.tokenizer import PublishedCodecTokenizer

    return PublishedCodecTokenizer(from_reference(model.state_dict(), "benchmark"), device="cpu")


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> float:
    """Reset this process's peak RSS (Linux: write 5 to /proc/self/clear_refs); returns the current RSS in MB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    return _status_mb("VmHWM")


def wavtokenizer_worker(codec: str, impl: str, op: str, seconds: float):
    """(model kept alive, the timed callable) for one WavTokenizer measurement."""
    import numpy as np
    import torch

    from tokkit.codecs.audio.published.tokenizer import WavTokenizerTokenizer
    from tokkit.codecs.audio.published.wavtokenizer import from_reference

    model = wavtokenizer_reference(codec)
    audio = speech(seconds)
    hop = math.prod(model.feature_extractor.encodec.encoder.ratios)
    codes = np.random.default_rng(0).integers(0, 4096, (1, math.ceil(audio.size / hop)))
    if impl == "tokkit":
        port = WavTokenizerTokenizer(from_reference(model.state_dict(), "benchmark"), device="cpu")
        del model
        return port, (lambda: port.encode_samples(audio)) if op == "encode" else (lambda: port.decode_codes(codes))
    x, bandwidth = torch.from_numpy(audio)[None], torch.tensor([0])

    def run():
        with torch.inference_mode():
            if op == "encode":
                return model.encode_infer(x, bandwidth_id=bandwidth)
            return model.decode(model.codes_to_features(torch.from_numpy(codes)), bandwidth_id=bandwidth)
    return model, run


def wavtokenizer_parity(codec: str, seconds: float) -> dict:
    """The full-size model, reference vs port on the same speech: equal codes (the reference's top-2 distance
    gap counted as a near-tie at <= 1e-3) and decoded audio on the reference's codes."""
    import torch

    from tokkit.codecs.audio.published.tokenizer import WavTokenizerTokenizer
    from tokkit.codecs.audio.published.wavtokenizer import from_reference

    model = wavtokenizer_reference(codec)
    port = WavTokenizerTokenizer(from_reference(model.state_dict(), "benchmark"), device="cpu")
    audio = speech(seconds)
    bandwidth = torch.tensor([0])
    with torch.inference_mode():
        latents = model.feature_extractor.encodec.encoder(torch.from_numpy(audio)[None, None])
        _, theirs = model.encode_infer(torch.from_numpy(audio)[None], bandwidth_id=bandwidth)
        theirs_audio = model.decode(model.codes_to_features(theirs), bandwidth_id=bandwidth)[0].numpy()
        embed = model.feature_extractor.encodec.quantizer.vq.layers[0]._codebook.embed
        flat = latents[0].t()
        dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ embed.t() + embed.pow(2).sum(1)[None]
        best = dist.topk(2, largest=False).values
        gaps = (best[:, 1] - best[:, 0]).numpy()
    ours = port.encode_samples(audio)[0]
    theirs = theirs[0, 0].numpy()
    ours_audio = port.decode_codes(theirs[None])
    decided = gaps > 1e-3
    return {"frames": int(theirs.size), "near_ties": int((~decided).sum()),
            "codes_differing_where_decided": int((ours != theirs)[decided].sum()),
            "codes_differing_at_near_ties": int((ours != theirs)[~decided].sum()),
            "audio_max_rel_diff": float(abs(ours_audio - theirs_audio).max() / abs(theirs_audio).max())}


def worker(impl: str, op: str, threads: int, seconds: float, repeats: int, codec: str = "encodec_24khz") -> dict:
    """One measurement in this process: returns {rtf, peak_mb}."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    if codec in DAC_SNAC:
        keep, run = dac_snac.worker(codec, impl, op, seconds)
        return _timed(run, seconds, repeats)
    if codec in MIMI:
        keep, run = mimi_rows.worker(codec, impl, op, seconds)
        return _timed(run, seconds, repeats)
    if codec in WAVTOKENIZER_YAML:
        keep, run = wavtokenizer_worker(codec, impl, op, seconds)
        return _timed(run, seconds, repeats)
    model = reference_model()
    audio = speech(seconds)
    frames = math.ceil(audio.size / 320)
    codes = np.random.default_rng(0).integers(0, 1024, (32, frames))  # decode speed does not depend on the values
    if impl == "tokkit":
        port = port_of(model)
        del model
        run = (lambda: port.encode_samples(audio, 32)) if op == "encode" else (lambda: port.decode_codes(codes))
    else:
        x = torch.from_numpy(audio)[None, None]
        frame = (torch.from_numpy(codes)[None], None)

        def run():
            with torch.no_grad():
                return model.encode(x) if op == "encode" else model.decode([frame])
    return _timed(run, seconds, repeats)


def _callable(codec: str, impl: str, op: str, seconds: float):
    """(objects kept alive, the timed callable) for one implementation and operation, any codec."""
    import numpy as np
    import torch

    if codec in DAC_SNAC:
        return dac_snac.worker(codec, impl, op, seconds)
    if codec in MIMI:
        return mimi_rows.worker(codec, impl, op, seconds)
    if codec in WAVTOKENIZER_YAML:
        return wavtokenizer_worker(codec, impl, op, seconds)
    model = reference_model()
    audio = speech(seconds)
    codes = np.random.default_rng(0).integers(0, 1024, (32, math.ceil(audio.size / 320)))
    if impl == "tokkit":
        port = port_of(model)
        return port, (lambda: port.encode_samples(audio, 32)) if op == "encode" else (lambda: port.decode_codes(codes))
    x, frame = torch.from_numpy(audio)[None, None], (torch.from_numpy(codes)[None], None)

    def run():
        with torch.no_grad():
            return model.encode(x) if op == "encode" else model.decode([frame])
    return model, run


def ceiling_rows(codecs: list[str], ops: list[str], seconds: float, repeats: int) -> list[dict]:
    """--ceiling: for each codec and operation, both sides timed and profiled at one thread (benchmarks/ceiling.py)."""
    import ceiling

    peak = ceiling.header()
    rows = []
    for codec in codecs:
        for op in ops:
            sides = {impl: _callable(codec, impl, op, seconds) for impl in ("reference", "tokkit")}
            rows.append(ceiling.report(f"{codec} {op} ({seconds:g} s of speech)", sides["reference"][1],
                                       sides["tokkit"][1], repeats, peak))
            del sides
    return rows


def _with_heap(run):
    """``run`` inside tokkit's reuse_freed_memory (for --reference-heap: the reference on the same allocator)."""
    from tokkit.core.device import reuse_freed_memory

    def wrapped():
        with reuse_freed_memory():
            return run()
    return wrapped


def interleaved(codec: str, threads: int, seconds: float, repeats: int, reference_heap: bool = False) -> dict:
    """Both implementations in this process, timed alternately (reference, tokkit, reference, ...) for each
    operation, so that both see the same machine load: best real-time factor of each, and the best CPU time
    of the whole process (every thread's: worker pools included), the least load-sensitive figure."""
    import torch

    torch.set_num_threads(threads)
    result = {}
    for op in ("encode", "decode"):
        sides = {impl: _callable(codec, impl, op, seconds) for impl in ("reference", "tokkit")}
        if reference_heap:
            sides["reference"] = (sides["reference"][0], _with_heap(sides["reference"][1]))
        for _, run in sides.values():
            run()  # warm-up (allocator, oneDNN primitive caches)
        best = {impl: (float("inf"), float("inf")) for impl in sides}
        for _ in range(repeats):
            for impl, (_, run) in sides.items():
                wall, cpu = time.perf_counter(), time.process_time()
                run()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                best[impl] = (min(best[impl][0], wall), min(best[impl][1], cpu))
        for impl, (wall, cpu) in best.items():
            result[f"{impl} {op}"] = {"rtf": wall / seconds, "cpu_rtf": cpu / seconds}
        del sides
    return result


def _timed(run, seconds: float, repeats: int) -> dict:
    import gc

    gc.collect()
    base = reset_peak()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return {"rtf": min(times) / seconds, "peak_mb": max(0.0, peak_rss_mb() - base)}


def long_file(seconds: float, threads: int) -> dict:
    """Codes of tokkit's stream vs the reference's whole-file encode on one long file."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    model = reference_model()
    port = port_of(model)
    audio = speech(seconds)
    base = reset_peak()
    start = time.perf_counter()
    ours = port.encode_samples(audio, 32)
    ours_s = time.perf_counter() - start
    ours_peak = peak_rss_mb() - base
    base = reset_peak()
    start = time.perf_counter()
    with torch.no_grad():
        theirs = model.encode(torch.from_numpy(audio)[None, None])[0][0][0].numpy()
    theirs_s = time.perf_counter() - start
    reference_peak = peak_rss_mb() - base
    differ = ours != theirs
    first_level = differ.argmax(0)[differ.any(0)]
    return {"seconds": seconds, "codes": int(ours.size), "differing_codes": int(differ.sum()),
            "frames_with_a_difference": int(differ.any(0).sum()), "frames": int(ours.shape[1]),
            "first_differing_level_median": float(np.median(first_level)) if first_level.size else None,
            "tokkit_s": ours_s, "reference_s": theirs_s, "tokkit_peak_mb": ours_peak, "reference_peak_mb": reference_peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--long-seconds", type=float, default=0.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--codecs", nargs="+", default=["encodec_24khz"],
                        choices=["encodec_24khz", *WAVTOKENIZER_YAML, *DAC_SNAC, *MIMI])
    parser.add_argument("--interleaved", action="store_true", help="time both implementations in one process, "
                        "alternately (robust to load on a shared machine; no memory figures)")
    parser.add_argument("--reference-heap", action="store_true", help="with --interleaved: run the reference inside "
                        "tokkit's reuse_freed_memory too (both on one allocator setting: compares the compute alone)")
    parser.add_argument("--ceiling", action="store_true", help="one thread: profile both sides, print the kernels "
                        "they share and the ceiling on the speed-up (benchmarks/ceiling.py)")
    parser.add_argument("--ops", nargs="+", default=["encode", "decode"], choices=["encode", "decode"])
    parser.add_argument("--worker", nargs=3, metavar=("IMPL", "OP", "THREADS"), help=argparse.SUPPRESS)
    parser.add_argument("--worker-codec", default="encodec_24khz", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        impl, op, threads = args.worker
        if op == "interleaved":
            print(json.dumps(interleaved(args.worker_codec, int(threads), args.seconds, args.repeats,
                                         args.reference_heap)))
            return
        if op == "parity":
            import torch

            torch.set_num_threads(int(threads))
            check = dac_snac.parity if args.worker_codec in DAC_SNAC else \
                mimi_rows.parity if args.worker_codec in MIMI else wavtokenizer_parity
            print(json.dumps(check(args.worker_codec, min(args.seconds, 10.0))))
            return
        print(json.dumps(worker(impl, op, int(threads), args.seconds, args.repeats, args.worker_codec)))
        return
    if "encodec_24khz" in args.codecs:
        try:
            import encodec  # noqa: F401
        except ImportError:
            sys.exit("the reference package `encodec` is not installed: run this in the scratch venv (see the docstring)")
    if args.ceiling:
        rows = ceiling_rows(args.codecs, args.ops, args.seconds, args.repeats)
        if args.json:
            print(json.dumps({"ceiling": rows}))
        return
    rows = []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    print(f"{', '.join(args.codecs)}; random weights, {args.seconds:g} s of samples/speech.wav at each codec's rate (EnCodec "
          f"at 24 kbps); load average before: {os.getloadavg()[0]:.1f}", flush=True)
    if args.interleaved:
        for codec, threads in ((c, t) for c in args.codecs for t in args.threads):
            out = subprocess.run([sys.executable, __file__, "--worker", "both", "interleaved", str(threads), "--seconds",
                                  str(args.seconds), "--repeats", str(args.repeats), "--worker-codec", codec]
                                 + (["--reference-heap"] if args.reference_heap else []),
                                 env=env, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            for op in ("encode", "decode"):
                ref, ours = r[f"reference {op}"], r[f"tokkit {op}"]
                row = {"codec": codec, "op": op, "threads": threads, "reference_rtf": ref["rtf"], "tokkit_rtf": ours["rtf"],
                       "speedup": ref["rtf"] / ours["rtf"], "cpu_speedup": ref["cpu_rtf"] / ours["cpu_rtf"]}
                rows.append(row)
                if not args.json:
                    cpu = f"; process CPU time {row['cpu_speedup']:.2f}x"
                    print(f"{codec:14s} {op:6s} threads={threads}: RTF reference {row['reference_rtf']:.3f}  tokkit "
                          f"{row['tokkit_rtf']:.3f}  -> {row['speedup']:.2f}x (target >= 1.5x){cpu} [interleaved]", flush=True)
        print(json.dumps({"rows": rows, "load_average_after": os.getloadavg()[0]}) if args.json
              else f"load average after: {os.getloadavg()[0]:.1f}")
        return
    for codec, threads, op in ((c, t, o) for c in args.codecs for t in args.threads for o in ("encode", "decode")):
        result = {}
        for impl in ("reference", "tokkit"):
            out = subprocess.run([sys.executable, __file__, "--worker", impl, op, str(threads), "--seconds",
                                  str(args.seconds), "--repeats", str(args.repeats), "--worker-codec", codec],
                                 env=env, check=True, capture_output=True, text=True).stdout
            result[impl] = json.loads(out.strip().splitlines()[-1])
        row = {"codec": codec, "op": op, "threads": threads,
               "reference_rtf": result["reference"]["rtf"], "tokkit_rtf": result["tokkit"]["rtf"],
               "speedup": result["reference"]["rtf"] / result["tokkit"]["rtf"],
               "reference_peak_mb": result["reference"]["peak_mb"], "tokkit_peak_mb": result["tokkit"]["peak_mb"]}
        rows.append(row)
        if not args.json:
            print(f"{codec:14s} {op:6s} threads={threads}: RTF reference {row['reference_rtf']:.3f}  tokkit {row['tokkit_rtf']:.3f}"
                  f"  -> {row['speedup']:.2f}x (target >= 1.5x); peak memory reference "
                  f"{row['reference_peak_mb']:.0f} MB  tokkit {row['tokkit_peak_mb']:.0f} MB", flush=True)
    report = {"rows": rows, "load_average_after": os.getloadavg()[0]}
    for codec in (c for c in args.codecs if c in DAC_SNAC or c in MIMI):
        out = subprocess.run([sys.executable, __file__, "--worker", "both", "parity", str(args.threads[-1]),
                              "--seconds", str(args.seconds), "--worker-codec", codec], env=env, check=True,
                             capture_output=True, text=True).stdout
        parity = report.setdefault("parity", {})[codec] = json.loads(out.strip().splitlines()[-1])
        if not args.json:
            print(f"{codec} full size, {min(args.seconds, 10.0):g} s: {parity['codes_compared']} codes compared, "
                  f"{parity['codes_differing_where_decided']} differ ({parity['codes_after_near_ties']} at or after a "
                  f"near-tie, gap <= 1e-3, not compared); decoded audio on the reference's codes: max |diff| / "
                  f"max |audio| = {parity['audio_max_rel_diff']:.2e}", flush=True)
    for codec in (c for c in args.codecs if c in WAVTOKENIZER_YAML):
        out = subprocess.run([sys.executable, __file__, "--worker", "both", "parity", str(args.threads[-1]),
                              "--seconds", str(args.seconds), "--worker-codec", codec], env=env, check=True,
                             capture_output=True, text=True).stdout
        parity = report.setdefault("parity", {})[codec] = json.loads(out.strip().splitlines()[-1])
        if not args.json:
            print(f"{codec} full size, {min(args.seconds, 10.0):g} s: {parity['frames']} codes, "
                  f"{parity['codes_differing_where_decided']} differ where the reference's top-2 gap > 1e-3 "
                  f"({parity['near_ties']} near-ties, {parity['codes_differing_at_near_ties']} of them differ); decoded "
                  f"audio on the reference's codes: max |diff| / max |audio| = {parity['audio_max_rel_diff']:.2e}",
                  flush=True)
    if args.long_seconds and "encodec_24khz" in args.codecs:
        report["long_file"] = long_file(args.long_seconds, args.threads[-1])
        if not args.json:
            lf = report["long_file"]
            print(f"long file {lf['seconds']:g} s: tokkit stream (10 s pieces) vs reference whole file: "
                  f"{lf['differing_codes']} of {lf['codes']} codes differ, in {lf['frames_with_a_difference']} of "
                  f"{lf['frames']} frames (median first differing level {lf['first_differing_level_median']}); "
                  f"time tokkit {lf['tokkit_s']:.1f} s, reference {lf['reference_s']:.1f} s; peak memory growth "
                  f"tokkit {lf['tokkit_peak_mb']:.0f} MB, reference {lf['reference_peak_mb']:.0f} MB")
    print(json.dumps(report) if args.json else f"load average after: {report['load_average_after']:.1f}")


if __name__ == "__main__":
    main()
