"""Golden fixtures for the DAC and SNAC ports (tests/fixtures/audio_ports/dac_*, snac_*), made with the authors' code.

Run in a scratch venv that has the reference packages (never a tokkit dependency)::

    python -m venv --system-site-packages /work/venvs/dacsnac
    /work/venvs/dacsnac/bin/pip install --no-deps descript-audio-codec==1.0.0 descript-audiotools==0.7.2 snac==1.2.1 \\
        julius ffmpy flatten_dict argbind markdown2 randomname torch_stoi pyloudnorm importlib_resources \\
        docstring_parser fire tensorboard absl-py torchaudio
    find /work/venvs/dacsnac -path '*torchaudio*' -name '*.so' -delete   # torchaudio in pure-Python mode
    PYTHONPATH=. /work/venvs/dacsnac/bin/python scripts/make_dac_snac_fixtures.py [dac|snac]

Each model is the authors' class at reduced widths with random weights (every random draw seeded); the
codebooks are re-initialised level by level from real projected residuals of samples/speech.wav (random
codebooks would leave most codes unused and the test would prove little). DAC is saved as the authors'
``weights.pth`` (audiotools ``BaseModel.save(package=False)``: state dict + metadata kwargs); SNAC as a HF
snapshot folder (config.json + pytorch_model.bin), as ``hubertsiuzdak/snac_24khz`` is laid out. Outputs:
latents, codes, the reference's top-2 distance gap per code, decoded audio on those codes.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "audio_ports"
SPEECH = ROOT / "samples" / "speech.wav"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_audio_port_fixtures import farthest_points  # noqa: E402  (one implementation of the code picking)

#: reduced DAC: the 44.1 kHz strides (hop 512) and an odd-stride 16 kHz-style model (hop 320)
DAC_SMALL = {
    "dac_small": dict(encoder_dim=4, encoder_rates=[2, 4, 8, 8], decoder_dim=32, decoder_rates=[8, 8, 4, 2],
                      n_codebooks=4, codebook_size=64, codebook_dim=8, sample_rate=44100),
    "dac_small_odd": dict(encoder_dim=4, encoder_rates=[2, 4, 5, 8], decoder_dim=32, decoder_rates=[8, 5, 4, 2],
                          n_codebooks=3, codebook_size=64, codebook_dim=8, sample_rate=16000),
}
#: reduced SNAC: the 24 kHz layout (no attention, strides 4-2-1) and the 32 kHz layout (attention, 8-4-2-1)
SNAC_SMALL = {
    "snac_small": dict(sampling_rate=24000, encoder_dim=4, encoder_rates=[2, 4, 8, 8], decoder_dim=64,
                       decoder_rates=[8, 8, 4, 2], attn_window_size=None, codebook_size=64, codebook_dim=8,
                       vq_strides=[4, 2, 1], noise=True, depthwise=True),
    "snac_small_attn": dict(sampling_rate=32000, encoder_dim=4, encoder_rates=[2, 3, 8, 8], decoder_dim=64,
                            decoder_rates=[8, 8, 3, 2], attn_window_size=8, codebook_size=64, codebook_dim=8,
                            vq_strides=[8, 4, 2, 1], noise=True, depthwise=True),
}

#: the released 24 kHz speech model's config.json (hubertsiuzdak/snac_24khz): only its tensor names and shapes
#: are recorded, so the tests check the port builds the full architecture from the published layout
SNAC_24KHZ = dict(sampling_rate=24000, encoder_dim=48, encoder_rates=[2, 4, 8, 8], decoder_dim=1024,
                  decoder_rates=[8, 8, 4, 2], attn_window_size=None, codebook_size=4096, codebook_dim=8,
                  vq_strides=[4, 2, 1], noise=True, depthwise=True)


def speech(rate: int, seconds: float, offset: float = 0.0) -> np.ndarray:
    """The project's own espeak sample (not held-out data), resampled to ``rate``."""
    from scipy.signal import resample_poly

    audio, source = sf.read(SPEECH, dtype="float32", always_2d=True)
    g = math.gcd(source, rate)
    mono = resample_poly(audio.mean(axis=1), rate // g, source // g).astype(np.float32)
    return mono[int(offset * rate): int((offset + seconds) * rate)]


def normalized_gaps(quantizer, residual: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
    """Top-2 gap of the reference's distance (between L2-normalised projections and codes) per vector, and its
    chosen codes; ``residual`` (T, D) at this level's rate."""
    encodings = torch.nn.functional.normalize(quantizer.in_proj(residual.t()[None])[0].t())
    codebook = torch.nn.functional.normalize(quantizer.codebook.weight)
    dist = encodings.pow(2).sum(1, keepdim=True) - 2 * encodings @ codebook.t() + codebook.pow(2).sum(1)[None]
    best = dist.topk(2, largest=False)
    return (best.values[:, 1] - best.values[:, 0]).numpy(), best.indices[:, 0]


def reinit_codebook(quantizer, residual: torch.Tensor, generator: torch.Generator) -> None:
    """This level's codebook := well-separated projections of real residual vectors (T, D)."""
    projected = quantizer.in_proj(residual.t()[None])[0].t()
    picks = farthest_points(torch.nn.functional.normalize(projected), quantizer.codebook_size, generator)
    quantizer.codebook.weight.copy_(projected[picks])


def realistic_gains(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Unit-norm rows for every weight-normed conv and small random biases. The authors' inits (DAC: std 0.02 and
    zero biases) make the signal vanish within a few layers, silence give exactly zero latents and the codes tie;
    a trained model has O(1) gains and nonzero biases."""
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
            g = module.weight_g if hasattr(module, "weight_g") else module.parametrizations.weight.original0
            g.fill_(1.0)
            if module.bias is not None:
                module.bias.normal_(0.0, 0.01, generator=generator)


def unsaturate(decoder: torch.nn.Sequential, run) -> None:
    """Scale the decoder's last conv so that its output, before the final tanh, has std 0.3 when ``run()`` decodes
    (unit-gain random layers saturate the tanh, and a saturated output would hide differences)."""
    seen = []
    handle = decoder[-1].register_forward_hook(lambda module, args, out: seen.append(args[0]))
    run()
    handle.remove()
    last = decoder[-2]
    scale = 0.3 / float(seen[0].std())
    last.weight_g.mul_(scale) if hasattr(last, "weight_g") else last.parametrizations.weight.original0.mul_(scale)
    last.bias.mul_(scale)


def save_outputs(name: str, tensors: dict[str, np.ndarray]) -> None:
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(OUT / f"{name}_outputs.safetensors"))


# -- DAC ----------------------------------------------------------------------------------------------
def dac_fixtures() -> None:
    import dac

    for index, (name, kwargs) in enumerate(DAC_SMALL.items()):
        torch.manual_seed(10 + index)
        model = dac.DAC(**kwargs).eval()
        rate, hop = kwargs["sample_rate"], model.hop_length
        generator = torch.Generator().manual_seed(20 + index)
        with torch.no_grad():
            realistic_gains(model, generator)
            train = torch.from_numpy(speech(rate, 6.0, offset=0.013))[None, None]
            residual = model.encoder(model.preprocess(train, rate))[0].t()
            for quantizer in model.quantizer.quantizers:
                reinit_codebook(quantizer, residual, generator)
                z_q, *_ = quantizer(residual.t()[None])
                residual = residual - z_q[0].t()
            audio = torch.from_numpy(speech(rate, 1.5))[None, None]
            unsaturate(model.decoder.model, lambda: model(audio, rate))
            latents = model.encoder(model.preprocess(audio, rate))
            z, codes, *_ = model.encode(model.preprocess(audio, rate))
            _, codes2, *_ = model.encode(model.preprocess(audio, rate), n_quantizers=2)
            decoded = model.decode(model.quantizer.from_codes(codes)[0])
            gaps, residual = [], latents[0].t()
            for level, quantizer in enumerate(model.quantizer.quantizers):
                gap, chosen = normalized_gaps(quantizer, residual)
                assert torch.equal(chosen, codes[0, level])
                gaps.append(gap)
                residual = residual - quantizer.out_proj(quantizer.decode_code(chosen[None]))[0].t()
        model.save(str(OUT / f"{name}.pth"), package=False)
        save_outputs(name, {"audio": audio[0, 0].numpy(), "latents": latents[0].numpy(),
                            "codes": codes[0].numpy().astype(np.int64), "gaps": np.stack(gaps).astype(np.float32),
                            "codes_prefix2": codes2[0].numpy().astype(np.int64), "decoded": decoded[0, 0].numpy()})
        distinct = [len(np.unique(level)) for level in codes[0].numpy()]
        print(f"{name}: hop {hop}, latents {tuple(latents.shape)}, codes {tuple(codes.shape)}, distinct per level "
              f"{distinct}, near-ties (gap <= 1e-3): {(np.stack(gaps) <= 1e-3).sum()}, decoded {tuple(decoded.shape)}")
    full = {key: list(value.shape) for key, value in dac.DAC().state_dict().items()}
    (OUT / "dac_44khz_shapes.json").write_text(json.dumps(full, indent=0, sort_keys=True) + "\n")


# -- SNAC ---------------------------------------------------------------------------------------------
def snac_fixtures() -> None:
    from snac import SNAC

    for index, (name, config) in enumerate(SNAC_SMALL.items()):
        torch.manual_seed(30 + index)
        model = SNAC(**config).eval()
        rate = config["sampling_rate"]
        generator = torch.Generator().manual_seed(40 + index)
        with torch.no_grad():
            realistic_gains(model, generator)
            unsaturate(model.decoder.model, lambda: model(torch.from_numpy(speech(rate, 1.5))[None, None]))
            train = torch.from_numpy(speech(rate, 6.0, offset=0.013))[None, None]
            residual = model.encoder(model.preprocess(train))
            for quantizer in model.quantizer.quantizers:
                pooled = torch.nn.functional.avg_pool1d(residual, quantizer.stride, quantizer.stride)
                reinit_codebook(quantizer, pooled[0].t(), generator)
                z_q, _ = quantizer(residual)
                residual = residual - z_q
            audio = torch.from_numpy(speech(rate, 1.5))[None, None]
            latents = model.encoder(model.preprocess(audio))
            codes = model.encode(audio)
            torch.manual_seed(7)
            decoded = model.decode(codes)
            gaps, residual = [], latents
            for level, quantizer in enumerate(model.quantizer.quantizers):
                pooled = torch.nn.functional.avg_pool1d(residual, quantizer.stride, quantizer.stride)
                gap, chosen = normalized_gaps(quantizer, pooled[0].t())
                assert torch.equal(chosen, codes[level][0])
                gaps.append(gap)
                z_q = quantizer.out_proj(quantizer.decode_code(chosen[None])).repeat_interleave(quantizer.stride, -1)
                residual = residual - z_q
        folder = OUT / name
        folder.mkdir(exist_ok=True)
        (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        torch.save(model.state_dict(), folder / "pytorch_model.bin")
        tensors = {"audio": audio[0, 0].numpy(), "latents": latents[0].numpy(), "decoded": decoded[0, 0].numpy()}
        for level, (level_codes, gap) in enumerate(zip(codes, gaps)):
            tensors[f"codes{level}"] = level_codes[0].numpy().astype(np.int64)
            tensors[f"gaps{level}"] = gap.astype(np.float32)
        save_outputs(name, tensors)
        print(f"{name}: latents {tuple(latents.shape)}, codes {[tuple(c.shape) for c in codes]}, distinct per level "
              f"{[len(np.unique(c.numpy())) for c in codes]}, near-ties {sum(int((g <= 1e-3).sum()) for g in gaps)}, "
              f"decoded {tuple(decoded.shape)}")
    full = {key: list(value.shape) for key, value in SNAC(**SNAC_24KHZ).state_dict().items()}
    (OUT / "snac_24khz_shapes.json").write_text(json.dumps({"config": SNAC_24KHZ, "shapes": full}, indent=0,
                                                           sort_keys=True) + "\n")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    which = sys.argv[1:] or ["dac", "snac"]
    if "dac" in which:
        dac_fixtures()
    if "snac" in which:
        snac_fixtures()
