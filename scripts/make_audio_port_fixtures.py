"""Golden fixtures for the published-codec ports (tests/fixtures/audio_ports/), made with the authors' code.

Run in the scratch venv that has the reference packages (never a tokkit dependency)::

    python -m venv --system-site-packages /work/venvs/audioports
    /work/venvs/audioports/bin/pip install --no-deps encodec==0.1.1
    PYTHONPATH=. /work/venvs/audioports/bin/python scripts/make_audio_port_fixtures.py [encodec] [vocos]

WavTokenizer (reference: a checkout of github.com/jishengpeng/WavTokenizer, not a package)::

    python -m venv --system-site-packages /work/venvs/wavtok
    /work/venvs/wavtok/bin/pip install --no-deps torchaudio==2.9.0   # then delete its *.so (pure-Python mode)
    WAVTOKENIZER_REF=/path/to/WavTokenizer PYTHONPATH=. /work/venvs/wavtok/bin/python \
        scripts/make_audio_port_fixtures.py wavtokenizer

EnCodec: the reference model at a reduced width (random weights; the full 24 kHz architecture's tensor
names and shapes are recorded separately so the tests check the port accepts them), codebooks
re-initialised level by level from real residuals of samples/speech.wav (zero or random codebooks
would let one code win everywhere), exported as the package's ``.th`` state dict and as a HF
snapshot folder (transformers' EncodecModel, same weights). Outputs: latents, codes, the reference's
top-2 distance gap per code, decoded audio on those codes. Every random draw is seeded.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "audio_ports"
SPEECH = ROOT / "samples" / "speech.wav"

SMALL = dict(n_filters=4, dimension=16, n_q=8, bins=64)
LATENT_GAIN = 100.0


def speech_24k(seconds: float) -> np.ndarray:
    """The project's own espeak sample (not held-out data), resampled to 24 kHz, first ``seconds``."""
    from scipy.signal import resample_poly

    audio, rate = sf.read(SPEECH, dtype="float32", always_2d=True)
    g = math.gcd(rate, 24000)
    mono = resample_poly(audio.mean(axis=1), 24000 // g, rate // g).astype(np.float32)
    return mono[: int(seconds * 24000)]


def reinit_codebooks(model, audio: torch.Tensor, seed: int) -> None:
    """Each level's codebook := random residual vectors of real speech at that level, taken from the
    audio shifted by half a frame (so no test frame sits exactly on a code and leaves a zero residual)."""
    generator = torch.Generator().manual_seed(seed)
    shifted = audio[:, 160:]
    with torch.no_grad():
        residual = model.encoder(shifted[:, None]).transpose(1, 2).reshape(-1, model.quantizer.dimension)
        for layer in model.quantizer.vq.layers:
            book = layer._codebook
            picks = farthest_points(residual, book.codebook_size, generator)
            book.embed.copy_(residual[picks])
            book.embed_avg.copy_(residual[picks])
            book.inited.fill_(1.0)
            residual = residual - book.embed[book.quantize(residual)]


def farthest_points(vectors: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of ``count`` well-separated rows (greedy farthest-point sampling from a random start), so
    that no two codes are near-copies (silent frames would otherwise give many equal codes and only ties)."""
    chosen = [int(torch.randint(vectors.shape[0], (1,), generator=generator))]
    distance = (vectors - vectors[chosen[0]]).pow(2).sum(1)
    for _ in range(count - 1):
        chosen.append(int(distance.argmax()))
        distance = torch.minimum(distance, (vectors - vectors[chosen[-1]]).pow(2).sum(1))
    return torch.tensor(chosen)


def top2_gaps(model, latents: torch.Tensor, n_q: int) -> np.ndarray:
    """(n_q, T) gap between the best and second-best squared distance at each level, as the reference computes it."""
    residual = latents.transpose(1, 2).reshape(-1, latents.shape[1])
    gaps = []
    for layer in model.quantizer.vq.layers[:n_q]:
        embed = layer._codebook.embed
        dist = residual.pow(2).sum(1, keepdim=True) - 2 * residual @ embed.t() + embed.pow(2).sum(1)[None]
        best = dist.topk(2, largest=False).values
        gaps.append((best[:, 1] - best[:, 0]).numpy())
        residual = residual - embed[dist.argmin(1)]
    return np.stack(gaps)


def encodec_fixtures() -> None:
    import encodec
    from encodec.modules import SEANetDecoder, SEANetEncoder
    from encodec.quantization import ResidualVectorQuantizer

    # the full 24 kHz architecture: names and shapes only
    full = encodec.EncodecModel.encodec_model_24khz(pretrained=False)
    shapes = {name: list(value.shape) for name, value in full.state_dict().items()}
    (OUT / "encodec_24khz_shapes.json").write_text(json.dumps(shapes, indent=0, sort_keys=True) + "\n")

    torch.manual_seed(0)
    enc = SEANetEncoder(channels=1, dimension=SMALL["dimension"], n_filters=SMALL["n_filters"], causal=True,
                        norm="weight_norm")
    dec = SEANetDecoder(channels=1, dimension=SMALL["dimension"], n_filters=SMALL["n_filters"], causal=True,
                        norm="weight_norm")
    quantizer = ResidualVectorQuantizer(dimension=SMALL["dimension"], n_q=SMALL["n_q"], bins=SMALL["bins"])
    model = encodec.EncodecModel(enc, dec, quantizer, [0.75 * SMALL["n_q"] * math.log2(SMALL["bins"]) / 10],
                                 24000, 1, normalize=False).eval()
    with torch.no_grad():  # latents of a trained EnCodec are O(1); random weights give ~1e-2: scale the last conv
        last = model.encoder.model[-1].conv.conv
        last.weight_g.mul_(LATENT_GAIN)
        last.bias.mul_(LATENT_GAIN)
    reinit_codebooks(model, torch.from_numpy(speech_24k(6.5))[None], seed=1)
    audio = torch.from_numpy(speech_24k(1.5))[None]
    torch.save(model.state_dict(), OUT / "encodec_small.th")

    with torch.no_grad():
        latents = model.encoder(audio[:, None])
        codes = model.quantizer.encode(latents, model.frame_rate, None).transpose(0, 1)  # (B, n_q, T)
        decoded = model.decoder(model.quantizer.decode(codes.transpose(0, 1)))
        codes3 = model.quantizer.vq.encode(latents, n_q=3)
    gaps = top2_gaps(model, latents, SMALL["n_q"])
    from safetensors.numpy import save_file

    save_file({"audio": audio[0].numpy(), "latents": latents[0].numpy(), "codes": codes[0].numpy().astype(np.int64),
               "gaps": gaps.astype(np.float32), "decoded": decoded[0, 0].numpy(),
               "codes_prefix3": codes3.transpose(0, 1)[0].numpy().astype(np.int64)},
              str(OUT / "encodec_small_outputs.safetensors"))
    distinct = [len(np.unique(level)) for level in codes[0].numpy()]
    print(f"encodec: latents {tuple(latents.shape)}, codes {tuple(codes.shape)}, distinct codes per level {distinct}, "
          f"near-ties (gap <= 1e-3): {(gaps <= 1e-3).sum()}")
    hf_snapshot(model)


def hf_name(name: str) -> str:
    """``encodec`` package tensor name -> transformers' EncodecModel name."""
    import re

    name = re.sub(r"^(encoder|decoder)\.model\.", r"\1.layers.", name)
    name = name.replace(".conv.conv.", ".conv.").replace(".convtr.convtr.", ".conv.")
    name = re.sub(r"^quantizer\.vq\.layers\.(\d+)\._codebook\.", r"quantizer.layers.\1.codebook.", name)
    name = name.replace(".weight_g", ".parametrizations.weight.original0")
    return name.replace(".weight_v", ".parametrizations.weight.original1")


def hf_snapshot(model) -> None:
    """The same weights in the HF ``facebook/encodec_24khz`` layout (transformers' EncodecModel.save_pretrained)."""
    from transformers import EncodecConfig, EncodecModel

    config = EncodecConfig(hidden_size=SMALL["dimension"], num_filters=SMALL["n_filters"], codebook_size=SMALL["bins"],
                           codebook_dim=SMALL["dimension"],
                           target_bandwidths=[0.75 * SMALL["n_q"] * math.log2(SMALL["bins"]) / 10])
    hf = EncodecModel(config).eval()
    theirs = hf.state_dict()
    mapped = {hf_name(name): value for name, value in model.state_dict().items()}
    if set(mapped) != set(theirs):
        raise SystemExit(f"layouts differ: {sorted(set(mapped) ^ set(theirs))[:4]}")
    for name, value in mapped.items():
        if value.shape != theirs[name].shape:
            raise SystemExit(f"{name}: {tuple(value.shape)} vs {tuple(theirs[name].shape)}")
    hf.load_state_dict(mapped)
    folder = OUT / "encodec_small_hf"
    shutil.rmtree(folder, ignore_errors=True)
    hf.save_pretrained(folder)
    with torch.no_grad():
        audio = torch.from_numpy(speech_24k(1.5))[None, None]
        ref = model.encoder(audio)
        theirs_latents = hf.encoder(audio)
    print(f"encodec HF snapshot: {sorted(p.name for p in folder.iterdir())}, encoder max diff vs package "
          f"{(ref - theirs_latents).abs().max().item():.2e}")


VOCOS_SMALL = dict(dim=32, intermediate_dim=64, num_layers=2)


def vocos_fixtures() -> None:
    """Vocos, mel and EnCodec variants, small, random weights (spread wider than the 0.02 init so the
    outputs are not near-constant), saved as the authors' snapshot folders: config.yaml + pytorch_model.bin."""
    import encodec
    import yaml
    import vocos.feature_extractors as features
    from vocos.pretrained import Vocos

    small_encodec = encodec_from_fixture()
    features.EncodecModel.encodec_model_24khz = staticmethod(lambda pretrained=True: small_encodec)
    per_q = math.log2(SMALL["bins"]) * 75 / 1000
    bandwidths = [per_q * n for n in (2, 4, 8)]
    variants = {
        "vocos_mel_small": {
            "feature_extractor": {"class_path": "vocos.feature_extractors.MelSpectrogramFeatures",
                                  "init_args": {"sample_rate": 24000, "n_fft": 256, "hop_length": 64, "n_mels": 24,
                                                "padding": "center"}},
            "backbone": {"class_path": "vocos.models.VocosBackbone",
                         "init_args": {"input_channels": 24, **VOCOS_SMALL}},
            "head": {"class_path": "vocos.heads.ISTFTHead",
                     "init_args": {"dim": VOCOS_SMALL["dim"], "n_fft": 256, "hop_length": 64, "padding": "same"}}},
        "vocos_encodec_small": {
            "feature_extractor": {"class_path": "vocos.feature_extractors.EncodecFeatures",
                                  "init_args": {"encodec_model": "encodec_24khz", "bandwidths": bandwidths}},
            "backbone": {"class_path": "vocos.models.VocosBackbone",
                         "init_args": {"input_channels": SMALL["dimension"], **VOCOS_SMALL,
                                       "adanorm_num_embeddings": len(bandwidths)}},
            "head": {"class_path": "vocos.heads.ISTFTHead",
                     "init_args": {"dim": VOCOS_SMALL["dim"], "n_fft": 1280, "hop_length": 320, "padding": "same"}}},
    }
    from safetensors.numpy import load_file, save_file

    golden = load_file(str(OUT / "encodec_small_outputs.safetensors"))
    audio = torch.from_numpy(golden["audio"])[None]
    outputs = {}
    for name, hparams in variants.items():
        folder = OUT / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        (folder / "config.yaml").write_text(yaml.safe_dump(hparams))
        torch.manual_seed(2)
        model = Vocos.from_hparams(str(folder / "config.yaml")).eval()
        with torch.no_grad():
            for pname, param in model.named_parameters():
                if pname.startswith("backbone.") or pname.startswith("head."):
                    param.add_(torch.randn_like(param) * 0.1)
        state = {k: v for k, v in model.state_dict().items() if not k.startswith("feature_extractor.encodec.")}
        torch.save(state, folder / "pytorch_model.bin")
        with torch.no_grad():
            if name == "vocos_mel_small":
                mel = model.feature_extractor(audio)
                outputs["mel"] = mel[0].numpy().copy()
                outputs["mel_audio"] = model.decode(mel)[0].numpy()
            else:
                codes = torch.from_numpy(golden["codes"][:4])  # 4 codebooks: bandwidth id 1
                feats = model.codes_to_features(codes)
                outputs["encodec_features"] = feats[0].numpy().copy()
                outputs["encodec_audio"] = model.decode(feats, bandwidth_id=torch.tensor([1]))[0].numpy()
    save_file(outputs, str(OUT / "vocos_small_outputs.safetensors"))
    print("vocos: " + ", ".join(f"{k} {v.shape} max {abs(v).max():.3g}" for k, v in outputs.items()))


def encodec_from_fixture():
    """The small reference EnCodec saved by :func:`encodec_fixtures`."""
    import encodec
    from encodec.modules import SEANetDecoder, SEANetEncoder
    from encodec.quantization import ResidualVectorQuantizer

    enc = SEANetEncoder(channels=1, dimension=SMALL["dimension"], n_filters=SMALL["n_filters"], causal=True)
    dec = SEANetDecoder(channels=1, dimension=SMALL["dimension"], n_filters=SMALL["n_filters"], causal=True)
    quantizer = ResidualVectorQuantizer(dimension=SMALL["dimension"], n_q=SMALL["n_q"], bins=SMALL["bins"])
    model = encodec.EncodecModel(enc, dec, quantizer, [0.75 * SMALL["n_q"] * math.log2(SMALL["bins"]) / 10],
                                 24000, 1, normalize=False)
    model.load_state_dict(torch.load(OUT / "encodec_small.th", weights_only=True))
    return model.eval()


#: WavTokenizer's reference code: its public repository (github jishengpeng/WavTokenizer, MIT), a checkout
#: of which (the decoder/, encoder/ and configs/ folders) is named by WAVTOKENIZER_REF; it imports
#: torchaudio, which runs in pure-Python mode in the scratch venv (see the module docstring)
WAVTOK_SMALL = dict(n_filters=2, dimension=32, bins=256, dim=32, intermediate_dim=64, num_layers=2,
                    dowmsamples=[8, 5, 4, 2], n_fft=640)
WAVTOK_GAIN = 1e4  # the narrow random encoder's latents are ~3e-3 in size; scaled so that float32 distances separate codes
WAVTOK_CONFIGS = {"40": "wavtokenizer_smalldata_frame40_3s_nq1_code4096_dim512_kmeans200_attn.yaml",
                  "75": "wavtokenizer_smalldata_frame75_3s_nq1_code4096_dim512_kmeans200_attn.yaml"}


def wavtokenizer_reference():
    """Import the authors' WavTokenizer modules from the checkout WAVTOKENIZER_REF names."""
    import os
    import sys

    ref = os.environ.get("WAVTOKENIZER_REF")
    if not ref or not Path(ref, "decoder", "pretrained.py").is_file():
        raise SystemExit("set WAVTOKENIZER_REF to a checkout of github.com/jishengpeng/WavTokenizer")
    sys.path.insert(0, ref)
    return Path(ref)


def wavtokenizer_small(ref: Path):
    """The authors' WavTokenizer classes at a reduced width (random weights): EncodecFeatures with its
    EnCodec swapped for a narrow one (the class hard-codes 512-wide latents), VocosBackbone with the
    attention pos_net, ISTFTHead; the yaml the authors' loader reads, with the same reduced numbers."""
    import yaml
    from decoder.feature_extractors import EncodecFeatures
    from decoder.heads import ISTFTHead
    from decoder.models import VocosBackbone
    from decoder.pretrained import WavTokenizer
    from encoder import EncodecModel
    from encoder.modules import SEANetDecoder, SEANetEncoder
    from encoder.quantization import ResidualVectorQuantizer

    w = WAVTOK_SMALL
    hparams = yaml.safe_load((ref / "configs" / WAVTOK_CONFIGS["75"]).read_text())
    args = hparams["model"]["init_args"]
    args["feature_extractor"]["init_args"].update(dowmsamples=w["dowmsamples"], vq_bins=w["bins"])
    args["backbone"]["init_args"].update(input_channels=w["dimension"], dim=w["dim"],
                                         intermediate_dim=w["intermediate_dim"], num_layers=w["num_layers"])
    args["head"]["init_args"].update(dim=w["dim"], n_fft=w["n_fft"], hop_length=math.prod(w["dowmsamples"]))
    torch.manual_seed(3)
    features = EncodecFeatures(**args["feature_extractor"]["init_args"])
    common = dict(causal=False, n_residual_layers=1, norm="weight_norm", pad_mode="reflect", lstm=2,
                  dimension=w["dimension"], channels=1, n_filters=w["n_filters"], activation="ELU")
    features.encodec = EncodecModel(
        encoder=SEANetEncoder(ratios=w["dowmsamples"], **common),
        decoder=SEANetDecoder(ratios=[8, 5, 4, 2], **{**common, "lstm": 0}),  # unused by WavTokenizer
        quantizer=ResidualVectorQuantizer(dimension=w["dimension"], n_q=1, bins=w["bins"], kmeans_init=True),
        target_bandwidths=[6.6] * 4, sample_rate=24000, channels=1)
    model = WavTokenizer(features, VocosBackbone(**args["backbone"]["init_args"]), ISTFTHead(**args["head"]["init_args"]))
    return model.eval(), hparams


def wavtokenizer_fixtures() -> None:
    """WavTokenizer (75 tokens/s layout, reduced width): a Lightning-style ``.ckpt`` + the yaml in a folder,
    golden latents / codes / gaps / decoded audio, and the tensor shapes of both full released configurations."""
    ref = wavtokenizer_reference()
    import yaml
    from decoder.pretrained import WavTokenizer

    shapes = {}
    for rate, name in WAVTOK_CONFIGS.items():  # the full architectures: names and shapes only
        full = WavTokenizer.from_hparams0802(str(ref / "configs" / name))
        shapes[rate] = {k: list(v.shape) for k, v in full.state_dict().items()}
        del full
    (OUT / "wavtokenizer_shapes.json").write_text(json.dumps(shapes, indent=0, sort_keys=True) + "\n")

    model, hparams = wavtokenizer_small(ref)
    encodec_model = model.feature_extractor.encodec
    with torch.no_grad():  # random-weight latents are tiny; trained ones are O(1): scale the last conv
        last = encodec_model.encoder.model[-1].conv.conv
        last.weight_g.mul_(WAVTOK_GAIN)
        # less a constant offset (the mean latent), which would otherwise dwarf the frame-to-frame
        # differences and leave float32 distances unable to tell codes apart
        offset = encodec_model.encoder(torch.from_numpy(speech_24k(6.5))[None, None]).mean(dim=(0, 2))
        last.bias.sub_(offset)
        generator = torch.Generator().manual_seed(4)
        for pname, param in model.named_parameters():  # spread the decoder wider than its 0.02 init
            if pname.startswith(("backbone.", "head.")):
                param.add_(torch.randn(param.shape, generator=generator) * 0.1)
    reinit_codebooks(encodec_model, torch.from_numpy(speech_24k(6.5))[None], seed=5)
    audio = torch.from_numpy(speech_24k(1.5))[None]
    with torch.no_grad():
        latents = encodec_model.encoder(audio[:, None])
        features, codes = model.encode_infer(audio, bandwidth_id=torch.tensor([0]))
        from_codes = model.codes_to_features(codes)
        decoded = model.decode(features, bandwidth_id=torch.tensor([0]))
    if not torch.equal(features, from_codes):
        raise SystemExit("the reference's encode features differ from codes_to_features of its codes")
    gaps = top2_gaps(encodec_model, latents, 1)
    folder = OUT / "wavtokenizer_small"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    state = dict(model.state_dict())
    # the rest of a Lightning checkpoint's state_dict (discriminators, loss buffers): a few tensors under
    # their real names stand for them, so the port is seen to skip what it does not use
    generator = torch.Generator().manual_seed(6)
    for name, shape in (("multiperioddisc.discriminators.0.convs.0.bias", (32,)),
                        ("multiresddisc.discriminators.0.convs.0.bias", (32,)),
                        ("dac.discriminators.0.convs.0.bias", (32,)),
                        ("melspec_loss.mel_spec.mel_scale.fb", (8, 4))):
        state[name] = torch.randn(shape, generator=generator)
    checkpoint = {"epoch": 0, "global_step": 0, "pytorch-lightning_version": "1.8.6", "state_dict": state,
                  "hyper_parameters": {"sample_rate": 24000, "initial_learning_rate": 2e-4, "mel_loss_coeff": 45},
                  "loops": {}, "callbacks": {}, "optimizer_states": [], "lr_schedulers": []}
    torch.save(checkpoint, folder / "wavtokenizer_small.ckpt")
    (folder / "wavtokenizer_small.yaml").write_text(yaml.safe_dump(hparams, sort_keys=False))
    from safetensors.numpy import save_file

    arrays = {"audio": audio[0], "latents": latents[0], "codes": codes[:, 0].long(), "gaps": torch.from_numpy(gaps),
              "features": features[0], "decoded": decoded[0]}  # features is a transposed view: copied contiguous
    save_file({k: np.ascontiguousarray(v.numpy()) for k, v in arrays.items()}, str(OUT / "wavtokenizer_small_outputs.safetensors"))
    print(f"wavtokenizer: latents {tuple(latents.shape)}, codes {tuple(codes.shape)} "
          f"({len(np.unique(codes.numpy()))} distinct), near-ties (gap <= 1e-3): {(gaps <= 1e-3).sum()}, "
          f"decoded {tuple(decoded.shape)} max {decoded.abs().max():.3g}")


def main() -> None:
    import sys

    OUT.mkdir(parents=True, exist_ok=True)
    parts = sys.argv[1:] or ["encodec", "vocos", "wavtokenizer"]
    if "encodec" in parts:
        encodec_fixtures()
    if "vocos" in parts:
        vocos_fixtures()
    if "wavtokenizer" in parts:
        wavtokenizer_fixtures()
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"fixtures in {OUT}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
