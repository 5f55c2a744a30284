"""TiTok / One-D-Piece ports against golden outputs of the authors' code (scripts/make_visual_port_fixtures.py).

The fixtures hold a reduced TiTok with random weights in the released layout (``titok_small.bin``), the
config.json each HF snapshot carries, the reference's latents, codes, float64 top-2 gaps and decoded
pixels (TiTok: all tokens; One-D-Piece: prefixes), and the tensor shapes of the six released models.
No reference package is needed here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import tokkit
from tokkit.errors import InputError, TokkitError, UnsupportedFormatError

FIXTURES = Path(__file__).parent / "fixtures" / "image_ports"
BIN = FIXTURES / "titok_small.bin"
NEAR_TIE = 1e-4  # float64 distance gap between the nearest and second-nearest code
PIXEL_RTOL = 1e-4  # max |ours - theirs| / max |theirs|


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def golden() -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(FIXTURES / "outputs.safetensors"))


@pytest.fixture(scope="module")
def port():
    return tokkit.load(BIN, device="cpu")


def snapshot(folder: Path, config: str | None, safetensors: bool = False) -> Path:
    """A HF-style snapshot folder of the fixture weights with the given config.json (or none)."""
    folder.mkdir(parents=True, exist_ok=True)
    if safetensors:
        from safetensors.torch import save_file

        save_file(torch.load(BIN, weights_only=True), str(folder / "model.safetensors"))
    else:
        shutil.copy(BIN, folder / "pytorch_model.bin")
    if config:
        shutil.copy(FIXTURES / config, folder / "config.json")
    return folder


@pytest.fixture(scope="module")
def one_d_piece(tmp_path_factory):
    return tokkit.load(snapshot(tmp_path_factory.mktemp("odp") / "snap", "one_d_piece_small_config.json"), device="cpu")


def relative(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return float((ours - theirs).abs().max() / theirs.abs().max())


# -- parity --------------------------------------------------------------------------------------------
def test_a_bare_bin_is_recognised_as_titok(port):
    c = port.config
    assert c.family == "titok" and c.num_tokens == 16 and c.image_size == 64 and c.patch_size == 8
    assert (c.encoder_width, c.encoder_depth, c.encoder_heads) == (128, 2, 2)
    assert c.pixel_decoder.channel_mult == (1, 1, 2, 2) and c.pixel_decoder.hidden_channels == 32


def test_latents_match_the_reference(port, golden):
    with torch.no_grad():
        latents = port.model.latents(golden["images"] * 2 - 1)
    torch.testing.assert_close(latents, golden["latents"], rtol=1e-4, atol=1e-5)


def test_codes_match_the_reference_except_near_ties(port, golden):
    with torch.no_grad():
        codes = port.model.encode(golden["images"] * 2 - 1)
    ties = golden["gaps"] <= NEAR_TIE
    assert torch.equal(codes[~ties], golden["codes"][~ties])
    assert int((~ties).sum()) >= 40  # of 48: the comparison is not vacuous


def test_decoded_pixels_match_the_reference(port, golden):
    with torch.no_grad():
        pixels = port.model.pixels(port.model.quantizer.decode(golden["codes"]))
    assert relative(pixels, golden["pixels"]) <= PIXEL_RTOL


def test_one_d_piece_prefixes_match_the_reference(one_d_piece, golden):
    assert one_d_piece.config.family == "one-d-piece" and one_d_piece.config.prefix_decodes
    for length in (1, 5, 16):
        with torch.no_grad():
            pixels = one_d_piece.model.pixels(one_d_piece.model.quantizer.decode(golden["codes"][:, :length]))
        assert relative(pixels, golden[f"odp_pixels_{length}"]) <= PIXEL_RTOL, length


def test_snapshots_and_bin_are_one_checkpoint(port, one_d_piece, tmp_path):
    titok = tokkit.load(snapshot(tmp_path / "titok", "titok_small_config.json", safetensors=True), device="cpu")
    assert titok.config == port.config and titok.identity["hash"] == port.identity["hash"]
    assert one_d_piece.identity["hash"] != port.identity["hash"]  # the family changes what decodes


@pytest.mark.parametrize("label", ["titok_s128", "titok_b64", "titok_l32", "one-d-piece_s256", "one-d-piece_b256",
                                   "one-d-piece_l256"])
@pytest.mark.parametrize("with_config", [True, False])
def test_released_configs_are_recognised_from_their_shapes(label, with_config):
    """The real tensor names and shapes (recorded from the authors' models on the meta device) build the
    port, with and without the snapshot's config.json."""
    from tokkit.codecs.image.published.titok import MODEL_SIZES, from_reference, looks_like

    release = json.loads((FIXTURES / "release_shapes.json").read_text())[label]
    with torch.device("meta"):
        state = {name: torch.empty(shape) for name, shape in release["tensors"].items()}
        assert looks_like(set(state), release["config"] if with_config else None)
        model = from_reference(state, label, hf_config=release["config"] if with_config else None)
    vq = release["config"]["model"]["vq_model"]
    width, depth, heads = MODEL_SIZES[vq["vit_enc_model_size"]]
    c = model.config
    assert (c.encoder_width, c.encoder_depth, c.encoder_heads) == (width, depth, heads)
    assert (c.decoder_width, c.decoder_depth, c.decoder_heads) == (width, depth, heads)
    assert c.num_tokens == vq["num_latent_tokens"] and c.image_size == 256 and c.codebook_size == 4096
    assert c.family == label.split("_")[0] and c.name == label
    assert c.pixel_decoder.channel_mult == (1, 1, 2, 2, 4) and c.pixel_decoder.hidden_channels == 128


def test_a_wrong_shape_in_a_release_is_one_line():
    from tokkit.codecs.image.published.titok import from_reference

    release = json.loads((FIXTURES / "release_shapes.json").read_text())["titok_l32"]
    with torch.device("meta"):
        state = {name: torch.empty(shape) for name, shape in release["tensors"].items()}
        state["decoder.transformer.3.mlp.c_fc.weight"] = torch.empty(4096, 512)
        with pytest.raises(InputError, match=r"bad.bin: decoder.blocks.3.mlp.0.weight has shape \(4096, 512\)"):
            from_reference(state, "bad.bin")


# -- the tokenizer, files and the CLI -----------------------------------------------------------------------
def test_titok_refuses_prefixes_one_d_piece_takes_them(port, one_d_piece):
    picture = Image.fromarray((np.random.default_rng(0).random((40, 60, 3)) * 255).astype(np.uint8))
    with pytest.raises(InputError, match="decodes only all 16"):
        port.encode(picture, tokens=4)
    with pytest.raises(InputError, match="decodes only all 16"):
        port.decode(np.arange(4))
    tokens = one_d_piece.encode(picture, tokens=4)
    assert tokens.codes.shape == (4,) and one_d_piece.decode(tokens).size == (60, 40)
    full = one_d_piece.encode(picture)
    assert np.array_equal(full.codes[:4], tokens.codes)  # a prefix is the prefix of the codes
    assert port.decode(port.encode(picture)).size == (60, 40)


def test_convert_encode_decode_info_from_the_cli(run_cli, tmp_path, one_d_piece):
    source = snapshot(tmp_path / "odp", "one_d_piece_small_config.json")
    folder = tmp_path / "converted"
    code, out, err = run_cli("convert", source, "-o", folder)
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    assert tokkit.load(folder, device="cpu").identity["hash"] == one_d_piece.identity["hash"]
    photo = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(1).random((50, 70, 3)) * 255).astype(np.uint8)).save(photo)
    tok = tmp_path / "photo.tok"
    code, out, err = run_cli("encode", photo, "-t", source, "--tokens", "5", "-o", tok)
    assert code == 0, err
    items = tokkit.load_tokens(tok)
    assert items.codes.shape == (5,) and items.meta["tokenizer"]["hash"] == one_d_piece.identity["hash"]
    code, out, err = run_cli("decode", tok, "-t", folder, "-o", tmp_path / "back.png")  # the converted folder
    assert code == 0, err
    assert Image.open(tmp_path / "back.png").size == (70, 50)
    code, out, err = run_cli("info", folder, "--json")
    facts = json.loads(out)
    assert facts["family"] == "one-d-piece" and facts["max_tokens"] == 16 and facts["prefix_decodes"] is True


def test_tokens_from_another_checkpoint_are_refused(run_cli, tmp_path):
    state = torch.load(BIN, weights_only=True)
    state["pixel_decoder.conv_out.bias"] = state["pixel_decoder.conv_out.bias"] + 1
    other = tmp_path / "other.bin"
    torch.save(state, other)
    photo = tmp_path / "p.png"
    Image.fromarray(np.full((20, 20, 3), 90, np.uint8)).save(photo)
    assert run_cli("encode", photo, "-t", BIN, "-o", tmp_path / "a.tok")[0] == 0
    code, out, err = run_cli("decode", tmp_path / "a.tok", "-t", other, "-o", tmp_path / "x.png")
    assert code != 0 and "hash" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()


def _bad(tmp_path: Path, case: str) -> Path:
    state = torch.load(BIN, weights_only=True)
    if case == "stage1":
        state = {k: v for k, v in state.items() if not k.startswith("pixel_")}
    elif case == "shape":
        state["encoder.ln_post.weight"] = torch.ones(7)
    elif case == "refused":
        import argparse

        state["args"] = argparse.Namespace(x=1)
    elif case == "config":
        folder = snapshot(tmp_path / "snap", "titok_small_config.json")
        config = json.loads((folder / "config.json").read_text())
        config["model"]["vq_model"]["num_latent_tokens"] = 32
        (folder / "config.json").write_text(json.dumps(config))
        return folder
    elif case == "single-stage":
        state = {k: v for k, v in state.items() if not k.startswith("pixel_")}
        state["decoder.conv_out.weight"] = torch.zeros(3, 3, 3, 3)
    path = tmp_path / f"{case}.bin"
    torch.save(state, path)
    return path


@pytest.mark.parametrize("case, message", [("stage1", "no MaskGIT-VQGAN pixel decoder"),
                                           ("shape", "encoder.ln_post.weight has shape (7,)"),
                                           ("refused", "weights_only"),
                                           ("config", "num_latent_tokens 32"),
                                           ("single-stage", "single-stage TiTok")])
def test_bad_checkpoints_fail_in_one_line_and_write_nothing(run_cli, tmp_path, case, message):
    path = _bad(tmp_path, case)
    with pytest.raises((InputError, UnsupportedFormatError)):
        tokkit.load(path, device="cpu")
    photo = tmp_path / "p.png"
    Image.fromarray(np.full((20, 20, 3), 90, np.uint8)).save(photo)
    code, out, err = run_cli("encode", photo, "-t", path, "-o", tmp_path / "out.tok")
    assert code != 0 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out.tok").exists()
    assert run_cli("convert", path, "-o", tmp_path / "conv")[0] != 0 and not (tmp_path / "conv").exists()


def test_titok_prefix_from_the_cli_is_one_line(run_cli, tmp_path):
    photo = tmp_path / "p.png"
    Image.fromarray(np.full((20, 20, 3), 90, np.uint8)).save(photo)
    code, out, err = run_cli("encode", photo, "-t", BIN, "--tokens", "4", "-o", tmp_path / "o.tok")
    assert code != 0 and "decodes only all 16" in err and not (tmp_path / "o.tok").exists()
    with pytest.raises(TokkitError):
        tokkit.load(BIN, device="cpu").encode(photo.read_bytes(), tokens=0)


def test_prefixed_keys_and_a_folder_without_config_load(port, tmp_path):
    """Training exports put the tensors under a prefix ("module."); HF folders may hold only the weights."""
    state = torch.load(BIN, weights_only=True)
    prefixed = tmp_path / "ema.bin"
    torch.save({f"module.{k}": v for k, v in state.items()}, prefixed)
    assert tokkit.load(prefixed, device="cpu").identity["hash"] == port.identity["hash"]
    bare = tokkit.load(snapshot(tmp_path / "bare", None), device="cpu")
    assert bare.identity["hash"] == port.identity["hash"] and bare.config.family == "titok"  # 16 tokens, not 256


def test_family_rule():
    """The config's model.type decides; else the relaxed length assertion; else 256 tokens mean One-D-Piece."""
    from tokkit.codecs.image.published.titok import _family

    plain = {"model": {"vq_model": {"num_latent_tokens": 256}}}
    assert _family(plain, 256) == "one-d-piece" and _family(None, 256) == "one-d-piece"
    assert _family(None, 32) == "titok" and _family(plain, 128) == "titok"
    assert _family({"model": {"type": "titok"}}, 256) == "titok"
    assert _family({"model": {"type": "one_d_piece"}}, 16) == "one-d-piece"
    assert _family({"model": {"vq_model": {"strict_length_assertion": False}}}, 16) == "one-d-piece"

