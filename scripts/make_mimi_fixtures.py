"""Golden fixtures for the Mimi port (tests/fixtures/audio_ports/mimi_*), made with Kyutai's own code.

Run in a scratch venv that has the reference package (never a tokkit dependency)::

    python -m venv --system-site-packages /work/venvs/mimi
    /work/venvs/mimi/bin/pip install --no-deps moshi==0.2.13 sentencepiece sphn
    PYTHONPATH=. /work/venvs/mimi/bin/python scripts/make_mimi_fixtures.py          # the small fixtures
    PYTHONPATH=. /work/venvs/mimi/bin/python scripts/make_mimi_fixtures.py full [SECONDS]  # full size, printed

The model is moshi's ``get_mimi`` at reduced widths (the published strides, split RVQ and transformer
options, 8 codebooks of 64) with random weights (every draw seeded): layer scales, norms and the last
encoder conv are spread wider than their init so the transformers and latents matter; each codebook is
re-initialised from real projected residuals of samples/speech.wav, shifted by SHIFTS offsets within a token frame
(never on the frame grid), and stored as the EMA pair (``embedding_sum``, ``cluster_usage`` with random usages), as the authors' files
hold it. The state dict is saved as a safetensors file in the published naming (``in_proj_weight``,
``out_proj.weight``, which moshi's load hook maps). Outputs: latents, codes (8), the reference's top-2
distance gap per code, decoded audio on those codes, and the latents and decoded tail with the attention
window cut to 16 frames (moshi's ``set_attention_context``), since 3 s never reach the 250-frame window.
``full``: the published architecture (random weights; 2048 codes per level but fewer frames, so the codes are
Gaussian draws with the level's residual mean and half its spread per channel) through the
reference and the port on 6.5 s of speech; prints the differences and the near-tie count.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "audio_ports"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_audio_port_fixtures import farthest_points, speech_24k  # noqa: E402  (one implementation of each)

NEAR_TIE = 1e-3
SMALL_SEANET = dict(channels=1, dimension=32, causal=True, n_filters=2, n_residual_layers=1, activation="ELU",
                    compress=2, dilation_base=2, disable_norm_outer_blocks=0, kernel_size=7, residual_kernel_size=3,
                    last_kernel_size=3, norm="none", pad_mode="constant", ratios=[8, 6, 5, 4], true_skip=True)
SMALL_QUANTIZER = dict(dimension=16, n_q=8, bins=64, input_dimension=32, output_dimension=32)
SMALL_TRANSFORMER = dict(d_model=32, num_heads=8, num_layers=2, causal=True, layer_scale=0.01, context=250,
                         conv_layout=True, max_period=10000, gating="none", norm="layer_norm",
                         positional_embedding="rope", dim_feedforward=64, input_dimension=32, output_dimensions=[32])
SMALL = dict(sample_rate=24000, channels=1, frame_rate=12.5, seanet=SMALL_SEANET, quantizer=SMALL_QUANTIZER,
             transformer=SMALL_TRANSFORMER)
WINDOW = 16
#: the full-size random encoder's latents are ~1; this spreads them so that float32 distances separate codes
FULL_GAIN = 1000.0
#: codebooks are picked among the latents of the audio shifted by this many offsets within a token frame
SHIFTS = 8


def published_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """moshi 0.2's state dict -> the naming of the released ``tokenizer-*.safetensors`` (attention projections
    as ``in_proj_weight`` / ``out_proj.weight``)."""
    out = {}
    for name, value in state.items():
        name = name.replace(".self_attn.in_projs.0.weight", ".self_attn.in_proj_weight")
        out[name.replace(".self_attn.out_projs.0.weight", ".self_attn.out_proj.weight")] = value.contiguous()
    return out


def spread_weights(model, generator: torch.Generator, gain: float) -> None:
    """Layer scales in [0.2, 1], norms away from (1, 0), the last encoder conv times ``gain`` (latents O(1))."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layer_scale_1.scale") or name.endswith("layer_scale_2.scale"):
                p.copy_(0.2 + 0.8 * torch.rand(p.shape, generator=generator))
            elif ".norm1." in name or ".norm2." in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(p.shape, generator=generator))
        last = model.encoder.model[-1].conv.conv
        last.weight.mul_(gain)
        last.bias.mul_(gain)


def reinit_codebooks(model, audio: torch.Tensor, seed: int, shifts: int = SHIFTS) -> None:
    """Each level of both groups := farthest-point picks among real projected residuals of ``audio`` shifted by
    half a token frame, stored as (embedding_sum, cluster_usage) with random usages."""
    generator = torch.Generator().manual_seed(seed)
    step = model.frame_size // shifts
    with torch.no_grad():
        emb = torch.cat([model._encode_to_unquantized_latent(audio[:, None, step // 2 + k * step:])
                         for k in range(shifts)], dim=-1)
        for group in (model.quantizer.rvq_first, model.quantizer.rvq_rest):
            residual = group.input_proj(emb).transpose(1, 2).reshape(-1, group.dimension)
            for layer in group.vq.layers:
                book = layer._codebook
                if residual.shape[0] >= 2 * book.codebook_size:
                    vectors = residual[farthest_points(residual, book.codebook_size, generator)]
                else:  # full size: 2048 codes from fewer frames: Gaussian draws with the residuals' mean and spread
                    noise = torch.randn(book.codebook_size, residual.shape[1], generator=generator)
                    vectors = residual.mean(0) + 0.5 * residual.std(0) * noise
                usage = 0.5 + 2.0 * torch.rand(book.codebook_size, generator=generator)
                book.embedding_sum.copy_(vectors * usage[:, None])
                book.cluster_usage.copy_(usage)
                book._initialized.fill_(1.0)
                book.register_buffer("_embedding", None, persistent=False)
                residual = residual - book.embedding[book._quantize(residual)]


@torch.no_grad()
def top2_gaps(model, emb: torch.Tensor) -> np.ndarray:
    """(n_q, T) gap between the best and second-best squared distance of each code, as the reference's
    residuals run (semantic group, then the acoustic group on its own projection)."""
    gaps = []
    for group in (model.quantizer.rvq_first, model.quantizer.rvq_rest):
        residual = group.input_proj(emb).transpose(1, 2).reshape(-1, group.dimension)
        for layer in group.vq.layers[:group.n_q]:
            embed = layer._codebook.embedding
            dist = (residual[:, None] - embed[None]).pow(2).sum(-1)
            best = dist.topk(2, largest=False).values
            gaps.append((best[:, 1] - best[:, 0]).numpy())
            residual = residual - embed[dist.argmin(1)]
    return np.stack(gaps)


def build(config: dict, seed: int, gain: float, shifts: int = SHIFTS):
    from moshi.models.loaders import get_mimi

    torch.manual_seed(seed)
    model = get_mimi(None, config, num_codebooks=config["quantizer"]["n_q"])
    spread_weights(model, torch.Generator().manual_seed(seed + 1), gain)
    reinit_codebooks(model, torch.from_numpy(speech_24k(6.5))[None], seed=seed + 2, shifts=shifts)
    return model.eval()


def run(model, audio: torch.Tensor) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        emb = model._encode_to_unquantized_latent(audio[:, None])
        codes = model.quantizer.encode(emb)
        decoded = model.decode(codes)
    return {"latents": emb[0], "codes": codes[0], "decoded": decoded[0, 0]}


def small_fixtures() -> None:
    from moshi.modules.transformer import set_attention_context
    from safetensors.numpy import save_file
    from safetensors.torch import save_file as save_tensors

    from moshi.models.loaders import get_mimi

    # the full published architecture: names (as released) and shapes only
    full = get_mimi(None, None, num_codebooks=8)
    shapes = {name: list(value.shape) for name, value in published_names(full.state_dict()).items()}
    (OUT / "mimi_shapes.json").write_text(json.dumps(shapes, indent=0, sort_keys=True) + "\n")

    model = build(SMALL, seed=0, gain=300.0)
    path = OUT / "mimi_small.safetensors"
    save_tensors(published_names(model.state_dict()), str(path))
    again = get_mimi(path, SMALL, num_codebooks=8)  # the file loads back into the reference (its load hook)
    audio16 = speech_24k(3.0).astype(np.float16)  # stored as float16; the reference sees the same values
    audio = torch.from_numpy(audio16.astype(np.float32))[None]
    ours = run(model, audio)
    assert torch.equal(run(again, audio)["codes"], ours["codes"])
    gaps = top2_gaps(model, ours["latents"][None])
    set_attention_context(model, WINDOW)
    windowed = run(model, audio)
    tail = 12000
    save_file({"audio": audio16, "latents": ours["latents"].numpy(), "codes": ours["codes"].numpy().astype(np.int64),
               "gaps": gaps.astype(np.float32), "decoded": ours["decoded"].numpy(),
               "latents_window16": windowed["latents"].numpy(),
               "codes_window16": windowed["codes"].numpy().astype(np.int64),
               "decoded_window16_tail": windowed["decoded"][-tail:].numpy()},
              str(OUT / "mimi_small_outputs.safetensors"))
    set_attention_context(model, SMALL_TRANSFORMER["context"])
    hf_snapshot(model, audio, SMALL_TRANSFORMER["num_heads"])
    distinct = [len(np.unique(level)) for level in ours["codes"].numpy()]
    print(f"mimi: latents {tuple(ours['latents'].shape)} (std {ours['latents'].std():.3f}), codes "
          f"{tuple(ours['codes'].shape)}, distinct codes per level {distinct}, near-ties (gap <= {NEAR_TIE}): "
          f"{(gaps <= NEAR_TIE).sum()}; window {WINDOW} changes "
          f"{(windowed['codes'] != ours['codes']).sum().item()} codes")


def hf_name(name: str) -> str:
    """moshi's tensor name -> HF transformers' flat ``kyutai/mimi`` name."""
    import re

    name = name.replace("downsample.conv.conv.conv.", "downsample.conv.").replace("upsample.convtr.convtr.convtr.", "upsample.conv.")
    name = re.sub(r"^(encoder|decoder)\.model\.", r"\1.layers.", name)
    name = name.replace(".conv.conv.", ".conv.").replace(".convtr.convtr.", ".conv.")
    name = re.sub(r"_transformer\.transformer\.layers\.", "_transformer.layers.", name)
    for ours, theirs in ((".norm1.", ".input_layernorm."), (".norm2.", ".post_attention_layernorm."),
                         (".linear1.", ".mlp.fc1."), (".linear2.", ".mlp.fc2."), (".layer_scale_1.", ".self_attn_layer_scale."),
                         (".layer_scale_2.", ".mlp_layer_scale."), (".self_attn.out_projs.0.", ".self_attn.o_proj."),
                         ("quantizer.rvq_first.", "quantizer.semantic_residual_vector_quantizer."),
                         ("quantizer.rvq_rest.", "quantizer.acoustic_residual_vector_quantizer."),
                         (".vq.layers.", ".layers."), ("._codebook.", ".codebook."), (".embedding_sum", ".embed_sum"),
                         ("._initialized", ".initialized")):
        name = name.replace(ours, theirs)
    return name


def hf_snapshot(model, audio: torch.Tensor, heads: int) -> None:
    """The same weights as HF's ``kyutai/mimi`` snapshot (config.json + flat model.safetensors, q/k rows permuted
    for rotate-half RoPE as transformers' conversion script does), checked by loading it into transformers."""
    import shutil

    from safetensors.torch import save_file
    from transformers import MimiConfig, MimiModel

    tensors = {}
    for name, value in model.state_dict().items():
        if ".self_attn.in_projs.0.weight" in name:
            prefix = hf_name(name).replace(".self_attn.in_projs.0.weight", ".self_attn.")
            rows = value.shape[0] // 3
            for index, part in enumerate("qkv"):
                w = value[index * rows:(index + 1) * rows]
                if part != "v":  # interleaved pairs -> rotate-half halves, per head
                    w = w.view(heads, rows // heads // 2, 2, w.shape[1]).transpose(1, 2).reshape(rows, w.shape[1])
                tensors[f"{prefix}{part}_proj.weight"] = w.contiguous()
        else:
            tensors[hf_name(name)] = value.contiguous()
    s, q, t = SMALL_SEANET, SMALL_QUANTIZER, SMALL_TRANSFORMER
    config = MimiConfig(sampling_rate=24000, frame_rate=12.5, hidden_size=s["dimension"], num_filters=s["n_filters"],
                        num_residual_layers=1, upsampling_ratios=s["ratios"], kernel_size=7, last_kernel_size=3,
                        residual_kernel_size=3, dilation_growth_rate=2, use_causal_conv=True, pad_mode="constant",
                        compress=2, codebook_size=q["bins"], codebook_dim=q["dimension"], num_quantizers=q["n_q"],
                        use_conv_shortcut=False, vector_quantization_hidden_dimension=q["dimension"],
                        num_semantic_quantizers=1, upsample_groups=s["dimension"], num_hidden_layers=t["num_layers"],
                        intermediate_size=t["dim_feedforward"], num_attention_heads=heads, num_key_value_heads=heads,
                        head_dim=s["dimension"] // heads, sliding_window=t["context"])
    folder = OUT / "mimi_small_hf"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    config.save_pretrained(folder)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    hf = MimiModel.from_pretrained(folder).eval()
    with torch.no_grad():
        ours = model.encode(audio[:, None])
        theirs = hf.encode(audio[:, None], num_quantizers=q["n_q"]).audio_codes
        decoded = model.decode(ours)
        hf_decoded = hf.decode(ours).audio_values
    print(f"mimi HF snapshot: {sorted(p.name for p in folder.iterdir())}; transformers' codes equal moshi's: "
          f"{torch.equal(ours, theirs)} ({(ours != theirs).sum().item()} differ, in frames "
          f"{sorted(set((ours != theirs).nonzero()[:, 2].tolist()))} of {ours.shape[-1]}); decoded max |diff| "
          f"{(decoded - hf_decoded[..., :decoded.shape[-1]]).abs().max().item():.2e}")


def full_check(seconds: float = 6.5) -> dict:
    """The published architecture, random weights, through the reference and the port (nothing saved)."""
    from moshi.models.loaders import _mimi_config

    from tokkit.codecs.audio.published.mimi import from_reference

    model = build(_mimi_config, seed=10, gain=FULL_GAIN)
    port = from_reference(published_names(model.state_dict()), "full-size")
    audio = torch.from_numpy(speech_24k(1e9)[: int(seconds * 24000)])[None]
    ref = run(model, audio)
    gaps = top2_gaps(model, ref["latents"][None])
    with torch.inference_mode():
        latents = port.latents(audio)[0]
        codes = port.quantize(latents[None], 32)[0]
        decoded = port.decode(ref["codes"][None])[0]
    compared = differ = skipped = 0
    for frame in range(codes.shape[1]):  # compared level by level until the frame's first near-tie
        for level in range(codes.shape[0]):
            if gaps[level, frame] <= NEAR_TIE:
                skipped += codes.shape[0] - level
                break
            compared += 1
            differ += int(codes[level, frame] != ref["codes"][level, frame])
    return {"seconds": seconds, "codes": int(ref["codes"].numel()), "codes_compared": compared,
            "codes_differing_where_decided": differ, "codes_after_near_ties": skipped, "near_ties": int((gaps <= NEAR_TIE).sum()),
            "codes_differing_total": int((codes != ref["codes"]).sum()),
            "latents_max_rel_diff": float((latents - ref["latents"]).abs().max() / ref["latents"].abs().max()),
            "audio_max_rel_diff": float((decoded - ref["decoded"]).abs().max() / ref["decoded"].abs().max())}


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    if sys.argv[1:2] == ["full"]:
        print(json.dumps(full_check(float(sys.argv[2]) if len(sys.argv) > 2 else 6.5)))
    else:
        small_fixtures()
