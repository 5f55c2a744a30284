"""NVIDIA Cosmos DI / DV ports against golden outputs of the authors' code (scripts/make_cosmos_fixtures.py).

The fixtures hold reduced networks with random weights as the authors ship theirs (``encoder.jit`` and
``decoder.jit``, traced TorchScript, read here as data: no TorchScript code runs), the reference's
latents, bounded latents (for near-ties), codes and decoded pixels, and the tensor shapes of the five
released configurations. No reference package is needed here.
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
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError, TokkitError

FIXTURES = Path(__file__).parent / "fixtures" / "cosmos"
LAYOUTS = ("DI16x16", "DV8x16x16", "DV2x4x4", "DV4x4x4")
NEAR_TIE = 1e-4  # distance of a bounded latent from a rounding boundary (k + 0.5)
PIXEL_RTOL = 1e-4  # max |ours - theirs| / max |theirs|
LATENT_RTOL = 1e-4

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "outputs.npz") as data:
        return dict(data)


@pytest.fixture(scope="module")
def ports() -> dict:
    return {layout: tokkit.load(FIXTURES / f"Cosmos-tiny-{layout}", device="cpu") for layout in LAYOUTS}


def model_input(array: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(array).float().div(127.5).sub(1.0)
    return (x.permute(3, 0, 1, 2) if x.ndim == 4 else x.permute(2, 0, 1))[None]


def near_ties(bounded: np.ndarray) -> np.ndarray:
    """Token positions where some channel of the reference's bounded latent is within NEAR_TIE of k + 0.5."""
    gap = np.abs(bounded - np.floor(bounded) - 0.5)
    return (gap < NEAR_TIE).any(axis=0)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_recognised_from_the_tensors_and_the_name(ports, layout):
    config = ports[layout].config
    video = layout.startswith("DV")
    numbers = [int(n) for n in layout[2:].split("x")]
    assert config.video == video and config.spatial_compression == numbers[-1]
    assert config.temporal_compression == (numbers[0] if video else 1)
    assert list(config.levels) == [8, 5, 5, 5] and ports[layout].codebook_size == 1000
    assert ports[layout].modality == ("video" if video else "image")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_latents_codes_and_pixels_match_the_reference(ports, golden, layout):
    model = ports[layout].model
    x = model_input(golden[f"{layout}.input"])
    with torch.inference_mode():
        latents = model.latents(x)[0].numpy()
    reference = golden[f"{layout}.latents"]
    assert np.abs(latents - reference).max() <= LATENT_RTOL * np.abs(reference).max()
    codes = model.encode(x)[0].numpy()
    expected = golden[f"{layout}.codes"]
    assert codes.shape == expected.shape
    differ = codes != expected
    ties = near_ties(golden[f"{layout}.bounded"])
    assert not (differ & ~ties).any(), f"codes differ away from near-ties at {np.argwhere(differ & ~ties)[:5]}"
    assert ties.sum() <= 1, f"{ties.sum()} near-ties: the fixture's margins are too thin to test rounding"
    decoded = model.decode(torch.from_numpy(expected)[None])[0].numpy()
    theirs = golden[f"{layout}.decoded"]
    assert decoded.shape == theirs.shape
    assert np.abs(decoded - theirs).max() <= PIXEL_RTOL * np.abs(theirs).max()


def test_the_tokenizers_code_as_the_reference(ports, golden):
    """Through the tokenizer interface (pictures and frames as uint8, sizes already multiples of s)."""
    image = ports["DI16x16"]
    tokens = image.encode(Image.fromarray(golden["DI16x16.input"]))
    assert np.array_equal(tokens.codes, golden["DI16x16.codes"])
    assert tokens.meta["image_size"] == [48, 32] and image.decode(tokens).size == (48, 32)
    for layout, window in (("DV8x16x16", None), ("DV2x4x4", 7), ("DV4x4x4", None)):
        clip = golden[f"{layout}.input"]
        tokens = ports[layout].encode(clip, window=window)
        assert np.array_equal(tokens.codes, golden[f"{layout}.codes"]), layout
        frames = ports[layout].decode(tokens).numpy()
        assert frames.shape == clip.shape


def test_other_lengths_are_padded_and_cut(ports, golden):
    """A clip of any length: windows of 1 + kT frames, the last one padded by repeating its last frame."""
    tok = ports["DV2x4x4"]  # T = 2, default window 5
    clip = golden["DV2x4x4.input"][:6]  # windows of 5 and 1 frames
    tokens = tok.encode(clip)
    assert tokens.codes.shape[0] == 3 + 1 and tokens.meta["frames"] == 6 and tokens.meta["window"] == 5
    assert len(tok.decode(tokens)) == 6 and tok.decode(tokens).numpy().shape == clip.shape
    even = tok.encode(clip[:4], window=7)  # 4 frames: padded to 5, 3 latent frames, cut back to 4
    assert even.codes.shape[0] == 3 and tok.decode(even).numpy().shape[0] == 4
    padded = tok.encode(np.concatenate([clip[:4], clip[3:4]]), window=7)
    assert np.array_equal(padded.codes, even.codes)
    with pytest.raises(InputError, match="window"):
        tok.encode(clip, window=4)


def test_large_pictures_are_downscaled_and_restored(ports):
    tok = ports["DI16x16"]
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8))
    tokens = tok.encode(picture, size=35)
    assert tokens.meta["coded_size"] == [35, 25] and tokens.codes.shape == (2, 3)
    assert tok.decode(tokens).size == (70, 50)
    full = tok.encode(picture)
    assert full.meta["coded_size"] == [70, 50] and full.codes.shape == (4, 5)


def test_release_shapes_are_recognised():
    """The five released configurations (full size, built on the meta device) from their tensor shapes."""
    from tokkit.codecs.image.published.cosmos import canonical_keys, infer_config
    from tokkit.nn.cosmos import CosmosModel

    releases = json.loads((FIXTURES / "release_shapes.json").read_text())
    expected = {"DI8x8": (8, 1), "DI16x16": (16, 1), "DV4x8x8": (8, 4), "DV8x8x8": (8, 8), "DV8x16x16": (16, 8)}
    for release, shapes in releases.items():
        state = {key: torch.empty(shape, device="meta") for key, shape in shapes.items()}
        config = infer_config(canonical_keys(state), f"/models/Cosmos-0.1-Tokenizer-{release}/autoencoder.jit")
        assert (config.spatial_compression, config.temporal_compression) == expected[release], release
        assert config.channels == 128 and config.channels_mult == (2, 4, 4) and config.num_res_blocks == 2
        with torch.device("meta"):
            ours = CosmosModel(config).state_dict()
        assert {k: list(v.shape) for k, v in ours.items()} == shapes, release


def test_converted_folder_and_state_dict_hash_alike(ports, tmp_path, run_cli):
    source = FIXTURES / "Cosmos-tiny-DV2x4x4"
    code, out, err = run_cli("convert", str(source), "-o", str(tmp_path / "dv"))
    assert code == 0, err
    converted = tokkit.load(tmp_path / "dv", device="cpu")
    assert converted.identity["hash"] == ports["DV2x4x4"].identity["hash"]
    from safetensors.torch import save_file

    # a user's state_dict export: the FSQ's buffers are not in a state dict, so these reduced levels (not the
    # releases' [8, 8, 8, 5, 5, 5]) come from a config.json; the factors from the release name
    exported = tmp_path / "Cosmos-exported-DV2x4x4"
    exported.mkdir()
    save_file(ports["DV2x4x4"].model.state_dict(), str(exported / "model.safetensors"))
    with pytest.raises(InputError, match="levels"):
        tokkit.load(exported / "model.safetensors", device="cpu")
    (exported / "config.json").write_text(json.dumps({"levels": [8, 5, 5, 5]}))
    assert tokkit.load(exported, device="cpu").identity["hash"] == converted.identity["hash"]


def test_cli_round_trips(tmp_path, run_cli):
    clip = tmp_path / "clip.y4m"
    frames = np.random.default_rng(1).integers(0, 255, (6, 14, 18, 3), dtype=np.uint8)
    from tokkit.codecs.video.io import write_video

    write_video(iter(frames), clip, 12.0, 18, 14)
    folder = str(FIXTURES / "Cosmos-tiny-DV2x4x4")
    code, _, err = run_cli("encode", str(clip), "-t", folder, "-o", str(tmp_path / "clip.tok"))
    assert code == 0, err
    code, _, err = run_cli("decode", str(tmp_path / "clip.tok"), "-t", folder, "-o", str(tmp_path / "out.y4m"))
    assert code == 0, err
    from tokkit.codecs.video.io import probe

    info = probe(tmp_path / "out.y4m")
    assert (info.width, info.height) == (18, 14) and abs(info.fps - 12.0) < 1e-6
    photo = tmp_path / "photo.png"
    Image.fromarray(frames[0]).save(photo)
    image_folder = str(FIXTURES / "Cosmos-tiny-DI16x16")
    code, _, err = run_cli("encode", str(photo), "-t", image_folder, "-o", str(tmp_path / "photo.tok"))
    assert code == 0, err
    code, _, err = run_cli("decode", str(tmp_path / "photo.tok"), "-t", image_folder, "-o", str(tmp_path / "back.png"))
    assert code == 0, err and Image.open(tmp_path / "back.png").size == (18, 14)
    code, _, err = run_cli("decode", str(tmp_path / "photo.tok"), "-t", folder, "-o", str(tmp_path / "x.png"))
    assert code != 0 and len(err.strip().splitlines()) == 1


def test_bad_inputs_are_one_line(tmp_path, run_cli):
    half = tmp_path / "Cosmos-tiny-DV2x4x4"
    half.mkdir()
    shutil.copy(FIXTURES / "Cosmos-tiny-DV2x4x4" / "encoder.jit", half / "encoder.jit")
    with pytest.raises(InputError, match="decoder.jit"):
        tokkit.load(half, device="cpu")
    with pytest.raises(InputError, match="decoder is missing"):
        tokkit.load(half / "encoder.jit", device="cpu")
    unnamed = tmp_path / "mine"
    shutil.copytree(FIXTURES / "Cosmos-tiny-DV2x4x4", unnamed)
    with pytest.raises(InputError, match="release name"):
        tokkit.load(unnamed, device="cpu")
    (unnamed / "config.json").write_text(json.dumps({"spatial_compression": 4, "temporal_compression": 2}))
    assert tokkit.load(unnamed, device="cpu").config.temporal_compression == 2
    code, _, err = run_cli("info", str(half))
    assert code != 0 and len(err.strip().splitlines()) == 1
    tok = tokkit.load(FIXTURES / "Cosmos-tiny-DV2x4x4", device="cpu")
    good = tok.encode(np.zeros((3, 8, 8, 3), np.uint8))
    with pytest.raises(TokkitError):
        tok.decode(Tokens(good.codes[:1], good.meta))  # codes shorter than the frames they claim
    with pytest.raises(InputError):
        tok.decode(np.zeros((2, 3), np.int64))  # not a (t, h, w) grid


def test_haar_patching_is_invertible():
    from tokkit.nn.haar import patch_image, patch_video, unpatch_image, unpatch_video

    image = torch.randn(2, 3, 8, 16)
    assert patch_image(image, 2).shape == (2, 48, 2, 4)
    assert torch.allclose(unpatch_image(patch_image(image, 2), 2), image, atol=1e-6)
    video = torch.randn(1, 3, 9, 8, 8)
    assert patch_video(video, 2).shape == (1, 192, 3, 2, 2)
    assert torch.allclose(unpatch_video(patch_video(video, 2), 2), video, atol=1e-6)


def test_codes_are_causal(ports, golden):
    """The codes of a clip's first 1 + kT frames do not depend on the frames after them."""
    tok = ports["DV4x4x4"]  # T = 4
    clip = golden["DV4x4x4.input"]  # 9 frames
    whole = tok.encode(clip, window=9).codes
    assert np.array_equal(tok.encode(clip[:5], window=5).codes, whole[:2])
    assert np.array_equal(tok.encode(clip[:1], window=5).codes, whole[:1])
