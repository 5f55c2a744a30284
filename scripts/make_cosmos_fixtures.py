"""Golden fixtures for the NVIDIA Cosmos DI / DV ports (tests/fixtures/cosmos/), made with the authors' code.

Needs the authors' package ``cosmos_tokenizer`` (github.com/NVIDIA/Cosmos-Tokenizer, Apache-2.0) on the
path and a scratch venv with its light dependencies (loguru, einops; mediapy installed ``--no-deps`` only
so that the package imports). Run:

    PYTHONPATH=PATH/Cosmos-Tokenizer /work/venvs/cosmos/bin/python scripts/make_cosmos_fixtures.py

What it writes (small; nothing downloaded, random weights):
- one folder per layout, named like the authors' HF folders (``Cosmos-tiny-DI16x16``,
  ``Cosmos-tiny-DV8x16x16``, and ``Cosmos-tiny-DV2x4x4`` / ``-DV4x4x4``: the level plans of DV4x8x8 and
  DV8x8x8 with a 2x2x2 patch, whose output convolutions are 64x smaller), each holding ``encoder.jit`` and ``decoder.jit``: the authors' ``encoder_jit()`` / ``decoder_jit()``
  modules of a reduced network (their classes, their configs with fewer channels, one block per level and
  FSQ levels [8, 5, 5, 5]) traced with ``torch.jit.trace`` and saved with ``torch.jit.save``, as the
  authors ship theirs (their modules do not ``torch.jit.script``: the patcher keeps a Python ``range``).
  Weights are random, rounded to float16 values (stored as float32, as traced). The archives' optional
  ``.debug_pkl`` members (source-line tables) are dropped afterwards, which halves them; torch.jit.load
  still loads the result (checked here). About 2.5 MB in all: the archives' TorchScript code is most of it,
  and the DI's widths cannot go below GroupNorm's 32 groups. The DI16x16 and DV8x16x16 networks have attention at one level, which the releases do not, to cover that path.
- ``outputs.npz``: per layout the input pixels (uint8), the reference's pre-quantization latents,
  their bounded values (to count near-ties), codes and decoded pixels.
- ``release_shapes.json``: tensor names and shapes of the five released configurations built full size
  from the authors' configs (no weights kept), to check recognition against the real layouts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "cosmos"
LEVELS = [8, 5, 5, 5]
COMMON = dict(dropout=0.0, in_channels=3, out_channels=3, patch_size=4, patch_method="haar", z_factor=1,
              quantizer="FSQ", levels=LEVELS, embedding_dim=len(LEVELS))
#: layout name -> (authors' config overrides, input shape (T or None, H, W))
TINY = {
    "DI16x16": (dict(name="DI", channels=32, channels_mult=[1, 1], num_res_blocks=1, z_channels=8, resolution=64,
                     attn_resolutions=[16], spatial_compression=16), (None, 32, 48)),
    "DV8x16x16": (dict(name="DV", channels=8, channels_mult=[1, 1, 1], num_res_blocks=1, z_channels=8,
                       resolution=64, attn_resolutions=[16], spatial_compression=16, temporal_compression=8,
                       num_groups=1, legacy_mode=False, encoder="FACTORIZED", decoder="FACTORIZED"), (9, 32, 32)),
    # DV4x8x8's and DV8x8x8's level plans (no temporal downsampling / one of each) with a 2x2x2 Haar patch,
    # whose output convolutions are 64x smaller than the 4x4x4 patch's (the fixtures stay small)
    "DV2x4x4": (dict(name="DV", channels=8, channels_mult=[1, 1], num_res_blocks=1, z_channels=8, resolution=64,
                     attn_resolutions=[], spatial_compression=4, temporal_compression=2, patch_size=2, num_groups=1,
                     legacy_mode=False, encoder="FACTORIZED", decoder="FACTORIZED"), (7, 12, 16)),
    "DV4x4x4": (dict(name="DV", channels=8, channels_mult=[1, 1, 1], num_res_blocks=1, z_channels=8, resolution=64,
                     attn_resolutions=[], spatial_compression=4, temporal_compression=4, patch_size=2, num_groups=1,
                     legacy_mode=False, encoder="FACTORIZED", decoder="FACTORIZED"), (9, 12, 16)),
}
RELEASES = {"DI8x8": ("DI", 8, None), "DI16x16": ("DI", 16, None), "DV4x8x8": ("DV", 8, 4),
            "DV8x8x8": ("DV", 8, 8), "DV8x16x16": ("DV", 16, 8)}


def randomize(model: torch.nn.Module, seed: int) -> None:
    """Random weights on a float16 grid; norms near unit scale; a wider quant_conv (varied codes)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, value in model.named_parameters():
            noise = torch.randn(value.shape, generator=generator)
            if value.ndim == 1:
                base = 1.0 if "norm" in name and name.endswith("weight") else 0.0
                value.copy_(base + 0.1 * noise)
            else:
                fan_in = value[0].numel()
                value.copy_(noise * (1.5 / fan_in) ** 0.5 * (6.0 if name.startswith("quant_conv") else 1.0))
            value.copy_(value.half().float())


def strip_debug(path: Path) -> None:
    """Drop the archive's ``.debug_pkl`` members (source-line tables for error messages; optional in the
    format): they are half of these small files. Every other member is copied byte for byte, stored as saved."""
    import zipfile

    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info.filename)) for info in source.infolist()
                   if not info.filename.endswith(".debug_pkl")]
    with zipfile.ZipFile(path, "w") as target:
        for info, data in members:
            target.writestr(info, data)


def pixels_for(shape: tuple, seed: int) -> np.ndarray:
    """Smooth moving colour patterns plus noise: (H, W, 3) or (T, H, W, 3) uint8."""
    rng = np.random.default_rng(seed)
    frames, height, width = shape
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    out = []
    for t in range(frames or 1):
        picture = np.stack([np.sin(6 * x + 0.4 * t), np.cos(5 * y - 0.3 * t), x * y], axis=-1) * 0.45 + 0.5
        out.append(np.clip(picture + 0.08 * rng.standard_normal(picture.shape), 0, 1))
    array = (np.stack(out) * 255).round().astype(np.uint8)
    return array if frames else array[0]


def bounded(quantizer, latents: torch.Tensor) -> torch.Tensor:
    """The authors' FSQ bound of pre-quantization latents (channels first): the values it rounds."""
    z = latents.movedim(1, -1)
    return quantizer.bound(z).movedim(-1, 1)


def main() -> None:
    from cosmos_tokenizer.networks import TokenizerModels

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    outputs: dict[str, np.ndarray] = {}
    for seed, (layout, (overrides, shape)) in enumerate(TINY.items()):
        config = {**COMMON, **overrides}
        model = TokenizerModels[config["name"]].value(**config).eval().to(dtype=torch.float32)
        randomize(model, seed)
        array = pixels_for(shape, seed)
        x = torch.from_numpy(array).float().div(127.5).sub(1.0)
        x = (x.permute(3, 0, 1, 2) if shape[0] else x.permute(2, 0, 1))[None]
        encoder, decoder = model.encoder_jit(), model.decoder_jit()
        with torch.no_grad():
            traced_encoder = torch.jit.trace(encoder, x)
            indices, _codes = traced_encoder(x)[:2]
            traced_decoder = torch.jit.trace(decoder, indices)
            decoded = traced_decoder(indices)
            latents = model.quant_conv(model.encoder(x))
        folder = args.out / f"Cosmos-tiny-{layout}"
        folder.mkdir(exist_ok=True)
        for traced, name in ((traced_encoder, "encoder.jit"), (traced_decoder, "decoder.jit")):
            torch.jit.save(traced, str(folder / name))
            strip_debug(folder / name)
            torch.jit.load(str(folder / name))  # still a TorchScript archive torch loads (here only, never in tokkit)
        outputs[f"{layout}.input"] = array
        outputs[f"{layout}.latents"] = latents[0].numpy()
        outputs[f"{layout}.bounded"] = bounded(model.quantizer, latents)[0].numpy()
        outputs[f"{layout}.codes"] = indices[0].numpy().astype(np.int64)
        outputs[f"{layout}.decoded"] = decoded[0].numpy()
        used = len(np.unique(outputs[f"{layout}.codes"]))
        print(f"{layout}: input {array.shape}, codes {tuple(indices.shape[1:])} ({used} distinct), "
              f"decoded {tuple(decoded.shape[1:])}, |decoded| max {decoded.abs().max():.3f}")
    np.savez_compressed(args.out / "outputs.npz", **outputs)

    shapes = {}
    for release, (name, spatial, temporal) in RELEASES.items():
        from cosmos_tokenizer.networks import TokenizerConfigs

        config = dict(TokenizerConfigs[name].value)
        config.update(spatial_compression=spatial, **({"temporal_compression": temporal} if temporal else {}))
        model = TokenizerModels[name].value(**config)
        state = {**model.encoder_jit().state_dict(), **model.decoder_jit().state_dict()}
        shapes[release] = {key: list(value.shape) for key, value in state.items()}
        del model
    (args.out / "release_shapes.json").write_text(json.dumps(shapes, sort_keys=True) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
