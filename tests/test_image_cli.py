"""`tokkit encode --tokens K` / `tokkit decode` with an image tokenizer folder, and `tokkit train image`."""

from __future__ import annotations

import json

import pytest
from PIL import Image

import tokkit

from image_helpers import picture, tiny_tokenizer


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("image") / "tiny"
    tiny_tokenizer().save(folder)
    return folder


def test_encode_with_tokens_then_decode(run_cli, model_dir, tmp_path) -> None:
    src = tmp_path / "photo.png"
    Image.fromarray(picture(30, 50)).save(src)
    code, out, err = run_cli("encode", src, "-t", model_dir, "--tokens", "5")
    assert code == 0, err
    assert b"5 tokens, 4 bits/token, 3 bytes" in out
    tokens = tokkit.load_tokens(tmp_path / "photo.tok")
    assert tokens.codes.shape == (5,) and tokens.meta["image_size"] == [50, 30]
    code, _, err = run_cli("decode", tmp_path / "photo.tok", "-o", tmp_path / "back.png", "-t", model_dir)
    assert code == 0, err
    assert Image.open(tmp_path / "back.png").size == (50, 30)


def test_device_is_accepted_for_images(run_cli, model_dir, tmp_path) -> None:
    """`tokkit encode x.png --device cpu` used to fail: the image loader refused the device its class takes."""
    src = tmp_path / "photo.png"
    Image.fromarray(picture(30, 50)).save(src)
    code, out, err = run_cli("encode", src, "-t", model_dir, "--device", "cpu", "--tokens", "4")
    assert code == 0, err
    code, _, err = run_cli("decode", tmp_path / "photo.tok", "-o", tmp_path / "back.png", "-t", model_dir,
                           "--device", "cpu")
    assert code == 0, err
    assert Image.open(tmp_path / "back.png").size == (50, 30)
    assert tokkit.load(model_dir, device="cpu").device == "cpu"


def test_several_images_in_one_call(run_cli, model_dir, tmp_path) -> None:
    paths = []
    for i, size in enumerate([(20, 20), (40, 25), (16, 60)]):
        paths.append(tmp_path / f"p{i}.png")
        Image.fromarray(picture(size[1], size[0], seed=i)).save(paths[-1])
    code, out, err = run_cli("encode", *paths, "-t", model_dir, "--tokens", "8", "-o", tmp_path / "all.tok")
    assert code == 0, err
    code, _, err = run_cli("decode", tmp_path / "all.tok", "-o", tmp_path / "out", "-t", model_dir)
    assert code == 0, err
    sizes = sorted(Image.open(p).size for p in (tmp_path / "out").iterdir())
    assert sizes == sorted([(20, 20), (40, 25), (16, 60)])


def test_json_output_lists_the_ids(run_cli, model_dir, tmp_path) -> None:
    src = tmp_path / "p.png"
    Image.fromarray(picture()).save(src)
    code, out, err = run_cli("encode", src, "-t", model_dir, "--tokens", "3", "--json")
    assert code == 0, err
    record = json.loads(out)
    assert len(record["ids"]) == 3 and record["payload_bytes"] == 2


@pytest.mark.parametrize("k", ["0", "9"])
def test_token_count_outside_range_is_one_line_error(run_cli, model_dir, tmp_path, k: str) -> None:
    src = tmp_path / "p.png"
    Image.fromarray(picture()).save(src)
    code, _, err = run_cli("encode", src, "-t", model_dir, "--tokens", k)
    assert code != 0 and err.startswith("tokkit: error:") and "from 1 to 8" in err
    assert "Traceback" not in err and not (tmp_path / "p.tok").exists()


def test_tokens_option_is_refused_for_text(run_cli, tmp_path, monkeypatch) -> None:
    from byte_tokenizer import KIND, ByteTokenizer

    from tokkit.core import registry

    monkeypatch.setitem(registry.KIND_LOADERS, KIND, "byte_tokenizer:load_saved")
    ByteTokenizer().save(tmp_path / "bytes")
    src = tmp_path / "a.txt"
    src.write_text("hello")
    code, _, err = run_cli("encode", src, "-t", tmp_path / "bytes", "--tokens", "3")
    assert code != 0 and "--tokens applies to" in err and not (tmp_path / "a.tok").exists()


def test_corrupt_image_is_one_line_error(run_cli, model_dir, tmp_path) -> None:
    src = tmp_path / "broken.png"
    src.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    code, _, err = run_cli("encode", src, "-t", model_dir)
    assert code != 0 and err.startswith("tokkit: error:") and "Traceback" not in err


def test_train_image_runs_checkpoints_and_resumes(run_cli, tmp_path) -> None:
    data = tmp_path / "photos"
    data.mkdir()
    for i in range(3):
        Image.fromarray(picture(40, 56, seed=i)).save(data / f"{i}.png")
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"image_size": 16, "patch_size": 4, "num_tokens": 8, "width": 32,
                                  "encoder_depth": 1, "decoder_depth": 1, "heads": 2,
                                  "quantizer": {"kind": "fsq", "levels": [5, 3]}}))
    out = tmp_path / "run"
    code, stdout, err = run_cli("train", "image", "--data", data, "--config", config, "-o", out,
                                "--max-minutes", "0.02", "--batch-size", "4", "--device", "cpu")
    assert code == 0, err
    first = torch_step(out)
    assert first >= 1 and (out / "final" / "model.safetensors").is_file()
    code, _, err = run_cli("train", "image", "--data", data, "-o", out, "--resume", "--max-minutes", "0.04",
                           "--batch-size", "4", "--device", "cpu")
    assert code == 0, err
    assert "resumed at step" in err and torch_step(out) > first
    tokenizer = tokkit.load(out / "final")
    assert tokenizer.decode(tokenizer.encode(picture(), tokens=2)).size == (36, 24)


def torch_step(out) -> int:
    import torch

    return int(torch.load(out / "checkpoint.pt", weights_only=True)["step"])
