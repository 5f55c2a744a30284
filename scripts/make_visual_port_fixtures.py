"""Golden fixtures for the TiTok / One-D-Piece ports (tests/fixtures/image_ports/), made with the authors' code.

Needs checkouts of github.com/bytedance/1d-tokenizer and github.com/turingmotors/One-D-Piece (their
``modeling/`` folders) and a scratch venv with their light dependencies (omegaconf, accelerate, psutil,
einops, huggingface_hub; their ``modeling/__init__`` files, which pull in torchvision and timm for the
training losses, are bypassed). Run:

    /work/venvs/visual/bin/python scripts/make_visual_port_fixtures.py \
        --titok-repo PATH/1d-tokenizer --odp-repo PATH/One-D-Piece

What it writes (small; nothing downloaded, random weights):
- ``titok_small.bin``: a reduced TiTok (64 px, 8 px patches, 16 tokens, width 128, 2 layers, 2 heads; a
  4-level 32-channel MaskGIT-VQGAN pixel decoder) saved by ``torch.save(model.state_dict())``, float16,
  in the released layout. The reduced ViT comes from the authors' own classes with their size table
  ("small": 512 wide, 8 layers, 8 heads) edited in memory to 128 / 2 / 2; the pixel decoder is the
  authors' class built from a smaller config. Nothing else in their code is changed.
- ``titok_small_config.json`` / ``one_d_piece_small_config.json``: the config.json each HF snapshot holds.
- ``outputs.safetensors``: input images, the reference's latents, codes, float64 top-2 distance gaps,
  decoded pixels (TiTok: all tokens; One-D-Piece: prefixes of 1, 5 and 16 tokens).
- ``release_shapes.json``: tensor names and shapes of the six released configs (TiTok S-128, B-64, L-32;
  One-D-Piece S/B/L-256), from the authors' models built on the meta device (no weights).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import torch

SMALL = {"width": 128, "layers": 2, "heads": 2}
VQ_MODEL = {"codebook_size": 4096, "token_size": 12, "use_l2_norm": True, "commitment_cost": 0.25,
            "vit_enc_model_size": "small", "vit_dec_model_size": "small", "vit_enc_patch_size": 8,
            "vit_dec_patch_size": 8, "num_latent_tokens": 16, "finetune_decoder": True}
PIXEL = {"channel_mult": [1, 1, 2, 2], "num_resolutions": 4, "dropout": 0.0, "hidden_channels": 32,
         "num_channels": 3, "num_res_blocks": 2, "resolution": 64, "z_channels": 256}
RELEASES = {"titok_s128": ("titok", "small", 128), "titok_b64": ("titok", "base", 64),
            "titok_l32": ("titok", "large", 32), "one-d-piece_s256": ("one_d_piece", "small", 256),
            "one-d-piece_b256": ("one_d_piece", "base", 256), "one-d-piece_l256": ("one_d_piece", "large", 256)}
PREFIXES = (1, 5, 16)


def load_reference(repo: Path, small: bool) -> types.ModuleType:
    """The authors' ``modeling.titok`` (or ``modeling.one_d_piece``) from ``repo``, package __init__ files
    bypassed; with ``small`` the "small" row of the ViT size table is SMALL."""
    for name in [n for n in sys.modules if n == "modeling" or n.startswith("modeling.")]:
        del sys.modules[name]
    for package in ("modeling", "modeling.modules", "modeling.quantizer"):
        module = types.ModuleType(package)
        module.__path__ = [str(repo / package.replace(".", "/"))]
        sys.modules[package] = module
    quantizer = repo / "modeling/quantizer/quantizer.py"
    _exec("modeling.quantizer.quantizer", quantizer.read_text())
    sys.modules["modeling.quantizer"].VectorQuantizer = sys.modules["modeling.quantizer.quantizer"].VectorQuantizer
    source = (repo / "modeling/modules/blocks.py").read_text()
    if small:
        for table, value in (("width", SMALL["width"]), ("num_layers", SMALL["layers"]), ("num_heads", SMALL["heads"])):
            source, count = re.subn(r'(self\.%s = \{\s*"small": )\d+' % table, r"\g<1>%d" % value, source)
            assert count == 2, (table, count)  # one table in the encoder, one in the decoder
    for name in ("base_model", "maskgit_vqgan"):
        _exec(f"modeling.modules.{name}", (repo / f"modeling/modules/{name}.py").read_text())
    _exec("modeling.modules.blocks", source)
    _exec("modeling.titok", (repo / "modeling/titok.py").read_text())
    if (repo / "modeling/one_d_piece.py").is_file():
        _exec("modeling.one_d_piece", (repo / "modeling/one_d_piece.py").read_text())
        return sys.modules["modeling.one_d_piece"]
    return sys.modules["modeling.titok"]


def _exec(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = name
    sys.modules[name] = module
    exec(compile(source, name, "exec"), module.__dict__)  # noqa: S102 - the authors' code, for fixtures only
    return module


def hf_config(model_type: str, vq: dict, crop: int) -> dict:
    config = {"experiment": {}, "model": {"vq_model": dict(vq)}, "dataset": {"preprocessing": {"crop_size": crop}}}
    if model_type == "one_d_piece":
        config["model"]["type"] = "one_d_piece"
        config["model"]["vq_model"]["strict_length_assertion"] = False
    return config


def build_small(module: types.ModuleType, config: dict):
    from omegaconf import OmegaConf

    cls = getattr(module, "OneDPiece", None) or module.TiTok
    model = cls(copy.deepcopy(config))
    model.pixel_decoder = sys.modules["modeling.modules.maskgit_vqgan"].Decoder(OmegaConf.create(PIXEL))
    return model.eval()


def randomise(model: torch.nn.Module, images: torch.Tensor) -> None:
    """Weights of a useful scale (the authors' 0.02 init makes every token alike), then the VQ codebook
    re-initialised partly from the encoder's own latents so that codes vary between images."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1 and ("norm" in name or "ln_" in name) and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            elif p.ndim == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p[0].numel() if p.ndim > 1 else p.shape[-1]
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in**0.5)
        z = model.encoder(pixel_values=images, latent_tokens=model.latent_tokens)  # (B, 12, 1, N)
        latents = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        table = model.quantize.embedding.weight
        table.copy_(torch.randn(table.shape, generator=gen))
        picks = latents[torch.randint(latents.shape[0], (512,), generator=gen)]
        table[:512] = picks + 0.05 * picks.norm(dim=1, keepdim=True) * torch.randn(picks.shape, generator=gen)
        # store as float16 (a smaller fixture), and run the reference on exactly those values
        for p in model.parameters():
            p.copy_(p.half().float())


def make_images() -> torch.Tensor:
    """Three 64x64 synthetic pictures in [0, 1] (gradients, a disc, noise), multiples of 1/255."""
    rng = np.random.default_rng(0)
    out = []
    for index in range(3):
        y, x = np.mgrid[0:64, 0:64] / 64.0
        disc = ((x - rng.random()) ** 2 + (y - rng.random()) ** 2 < 0.08)[..., None]
        array = np.stack([x, y, 1 - x * y], -1) * (0.4 + 0.2 * index) + 0.35 * disc + 0.1 * rng.random((64, 64, 3))
        out.append(np.round(np.clip(array, 0, 1) * 255) / 255)
    return torch.from_numpy(np.stack(out).astype(np.float32)).permute(0, 3, 1, 2).contiguous()


def gaps(latents: torch.Tensor, codebook: torch.Tensor) -> np.ndarray:
    """Per token, the float64 distance gap between the nearest and second-nearest normalised code."""
    z = torch.nn.functional.normalize(latents.double(), dim=-1)
    e = torch.nn.functional.normalize(codebook.double(), dim=-1)
    d = torch.cdist(z, e) ** 2
    top = d.topk(2, largest=False).values
    return (top[:, 1] - top[:, 0]).numpy()


def release_shapes(titok_repo: Path, odp_repo: Path) -> dict:
    shapes = {}
    for label, (model_type, size, tokens) in RELEASES.items():
        module = load_reference(odp_repo if model_type == "one_d_piece" else titok_repo, small=False)
        vq = dict(VQ_MODEL, vit_enc_model_size=size, vit_dec_model_size=size, vit_enc_patch_size=16,
                  vit_dec_patch_size=16, num_latent_tokens=tokens)
        with torch.device("meta"):
            cls = getattr(module, "OneDPiece", None) or module.TiTok
            model = cls(hf_config(model_type, vq, 256))
        shapes[label] = {"config": hf_config(model_type, vq, 256),
                         "tensors": {k: list(v.shape) for k, v in model.state_dict().items()}}
    return shapes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titok-repo", type=Path, required=True)
    parser.add_argument("--odp-repo", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "tests/fixtures/image_ports")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)

    images = make_images()
    titok_config = hf_config("titok", VQ_MODEL, 64)
    titok = build_small(load_reference(args.titok_repo, small=True), titok_config)
    randomise(titok, images)
    state = {k: v.half() if v.is_floating_point() else v for k, v in titok.state_dict().items()}
    torch.save(state, args.out / "titok_small.bin")
    with torch.no_grad():
        z = titok.encoder(pixel_values=images, latent_tokens=titok.latent_tokens)  # (B, 12, 1, N)
        _, result = titok.quantize(z)
        codes = result["min_encoding_indices"].reshape(images.shape[0], -1)
        pixels = titok.decode_tokens(codes)
    latents = z[:, :, 0].transpose(1, 2).contiguous()  # (B, N, 12)
    outputs = {"images": images, "latents": latents, "codes": codes, "pixels": pixels,
               "gaps": torch.from_numpy(gaps(latents.reshape(-1, latents.shape[-1]), titok.quantize.embedding.weight)
                                        .reshape(codes.shape))}

    odp_config = hf_config("one_d_piece", VQ_MODEL, 64)
    odp = build_small(load_reference(args.odp_repo, small=True), odp_config)
    odp.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    with torch.no_grad():
        for length in PREFIXES:
            outputs[f"odp_pixels_{length}"] = odp.decode_tokens(codes, length=length)
        odp_codes = odp.encode(images)[1]["min_encoding_indices"].reshape(images.shape[0], -1)
    assert torch.equal(odp_codes, codes), "the two references disagree on the same weights"

    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in outputs.items()}, str(args.out / "outputs.safetensors"))
    (args.out / "titok_small_config.json").write_text(json.dumps(titok_config, indent=2) + "\n")
    (args.out / "one_d_piece_small_config.json").write_text(json.dumps(odp_config, indent=2) + "\n")
    (args.out / "release_shapes.json").write_text(json.dumps(release_shapes(args.titok_repo, args.odp_repo)) + "\n")
    near = int((outputs["gaps"] < 1e-4).sum())
    print(f"wrote {args.out}: {codes.numel()} codes ({near} with a gap < 1e-4), prefixes {PREFIXES}")


if __name__ == "__main__":
    main()
