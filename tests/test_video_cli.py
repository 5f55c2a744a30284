"""`tokkit encode clip.mp4 --tokens K` / `tokkit decode clip.tok -o out.{mp4,y4m,gif,folder}` with a tiny
video tokenizer folder, bad inputs as one line, and `tokkit train video` with resume and warm start."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import tokkit
from tokkit.codecs.video.io import read_frames, write_video
from video_helpers import TINY, clip, tiny_tokenizer


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("video") / "tiny"
    tiny_tokenizer().save(folder)
    return folder


@pytest.fixture(scope="module")
def movie(tmp_path_factory):
    path = tmp_path_factory.mktemp("clips") / "pan.mp4"
    write_video(iter(clip(20, 24, 36)), path, 25.0, 36, 24)  # 0.8 s at 25 fps
    return path


def test_encode_and_decode_every_output_kind(run_cli, model_dir, movie, tmp_path) -> None:
    out = tmp_path / "pan.tok"
    code, stdout, err = run_cli("encode", movie, "-t", model_dir, "--tokens", "3", "-o", out)
    assert code == 0, err
    tokens = tokkit.load_tokens(out)
    assert tokens.codes.shape == (13, 3) and tokens.meta["fps"] == 25.0 and tokens.meta["image_size"] == [36, 24]
    assert b"39 tokens, 4 bits/token, 20 bytes" in stdout
    for name in ("back.mp4", "back.y4m", "back.gif", "frames"):
        code, _, err = run_cli("decode", out, "-o", tmp_path / name, "-t", model_dir)
        assert code == 0, err
    frames = list(read_frames(tmp_path / "back.y4m", 25.0))
    assert len(frames) == 20 and frames[0].shape == (24, 36, 3)
    assert len(list(read_frames(tmp_path / "back.mp4", 25.0))) == 20
    pngs = sorted((tmp_path / "frames").iterdir())
    assert len(pngs) == 20 and Image.open(pngs[0]).size == (36, 24)
    gif = Image.open(tmp_path / "back.gif")  # Pillow merges repeated frames into longer ones
    total_ms = 0
    for index in range(gif.n_frames):
        gif.seek(index)
        total_ms += gif.info["duration"]
    assert abs(total_ms - 800) <= 20 * 10


def test_an_image_file_is_a_one_frame_clip(run_cli, model_dir, tmp_path) -> None:
    src = tmp_path / "still.png"
    Image.fromarray(clip(1)[0]).save(src)
    code, _, err = run_cli("encode", src, "-t", model_dir, "--tokens", "2")
    assert code == 0, err
    assert tokkit.load_tokens(tmp_path / "still.tok").codes.shape == (1, 2)


@pytest.mark.parametrize("content", [b"not a video at all", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64])
def test_not_a_video_is_one_line(run_cli, model_dir, tmp_path, content) -> None:
    src = tmp_path / "fake.mp4"
    src.write_bytes(content)
    code, _, err = run_cli("encode", src, "-t", model_dir)
    assert code != 0 and err.startswith("tokkit: error:") and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "fake.tok").exists()


def test_truncated_stream_is_one_line_or_a_correct_result(run_cli, model_dir, movie, tmp_path) -> None:
    src = tmp_path / "cut.mp4"
    src.write_bytes(movie.read_bytes()[: movie.stat().st_size // 2])
    code, _, err = run_cli("encode", src, "-t", model_dir)
    assert "Traceback" not in err
    if code == 0:
        assert tokkit.load_tokens(tmp_path / "cut.tok").codes.shape[1] == TINY["num_tokens"]
    else:
        assert err.startswith("tokkit: error:") and not (tmp_path / "cut.tok").exists()


def test_bad_output_is_refused_before_work(run_cli, model_dir, movie, tmp_path) -> None:
    out = tmp_path / "pan.tok"
    assert run_cli("encode", movie, "-t", model_dir, "--tokens", "2", "-o", out)[0] == 0
    code, _, err = run_cli("decode", out, "-o", tmp_path / "back.avi", "-t", model_dir)
    assert code != 0 and "use .mp4" in err and not (tmp_path / "back.avi").exists()
    (tmp_path / "exists.mp4").write_bytes(b"x")
    code, _, err = run_cli("decode", out, "-o", tmp_path / "exists.mp4", "-t", model_dir)
    assert code != 0 and "already exists" in err and (tmp_path / "exists.mp4").read_bytes() == b"x"
    code, _, err = run_cli("encode", movie, "-t", model_dir, "--tokens", "99")
    assert code != 0 and "from 1 to 8" in err


def test_train_video_runs_resumes_and_warm_starts(run_cli, tmp_path) -> None:
    data = tmp_path / "data"
    (data / "videos").mkdir(parents=True)
    (data / "images" / "train").mkdir(parents=True)
    np.save(data / "videos" / "pan.npy", clip(12, 40, 48))
    for i in range(2):
        Image.fromarray(clip(1, 48, 56, seed=i)[0]).save(data / "images" / "train" / f"{i}.png")
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    out = tmp_path / "run"
    common = ["--batch-size", "2", "--photo-batch", "1", "--clip-frames", "2", "--device", "cpu"]
    code, _, err = run_cli("train", "video", "--data", data, "--config", config, "-o", out, "--max-minutes", "0.01", *common)
    assert code == 0, err
    code, _, err = run_cli("train", "video", "--data", data, "-o", out, "--resume", "--max-minutes", "0.02", *common)
    assert code == 0 and "resumed at step" in err, err
    code, _, err = run_cli("train", "video", "--data", data, "-o", tmp_path / "run2", "--init-from", out / "final",
                           "--max-minutes", "0.01", *common)
    assert code == 0 and "warm start" in err, err
    tokenizer = tokkit.load(tmp_path / "run2" / "final")
    assert tokenizer.decode(tokenizer.encode(clip(3), tokens=2)).numpy().shape == (3, 24, 36, 3)
    # version 2 (residual P-frames) from the version 1 weights: shared tensors copied, burn-in frames, one K per clip
    code, _, err = run_cli("train", "video", "--data", data, "-o", tmp_path / "run3", "--init-from", out / "final",
                           "--prediction", "residual", "--burn-in", "2", "--clip-keep", "1", "--max-minutes", "0.01",
                           *common)
    assert code == 0 and "warm start" in err, err
    residual = tokkit.load(tmp_path / "run3" / "final")
    assert residual.config.prediction == "residual"
    assert residual.decode(residual.encode(clip(3), tokens=2)).numpy().shape == (3, 24, 36, 3)


def test_a_folder_of_clips_into_shards(run_cli, model_dir, tmp_path) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    for i in range(2):
        write_video(iter(clip(5, 16, 16, seed=i)), folder / f"c{i}.mp4", 16.0, 16, 16)
    code, _, err = run_cli("encode", folder, "-t", model_dir, "--out-dir", tmp_path / "shards")
    assert code == 0, err
    manifest = json.loads((tmp_path / "shards" / "manifest.json").read_text())
    assert manifest["modality"] == "video"
    from tokkit.pipelines import iter_shard_tokens

    items = list(iter_shard_tokens(tmp_path / "shards"))
    assert len(items) == 2 and items[0].codes.shape == (5, TINY["num_tokens"])
    assert tiny_tokenizer().decode(items[1]).numpy().shape == (5, 16, 16, 3)


def test_shards_keep_k_tokens_per_frame_and_resume_only_with_the_same_k(run_cli, model_dir, tmp_path) -> None:
    """--tokens K in folder mode codes each frame at K (not N cut to K: the causal context differs)."""
    folder = tmp_path / "clips"
    folder.mkdir()
    for i in range(2):
        write_video(iter(clip(5, 16, 16, seed=i)), folder / f"c{i}.mp4", 16.0, 16, 16)
    out = tmp_path / "shards"
    code, _, err = run_cli("encode", folder, "-t", model_dir, "--tokens", "3", "--out-dir", out)
    assert code == 0, err
    assert json.loads((out / "manifest.json").read_text())["options"] == {"tokens": 3}
    from tokkit.pipelines import iter_shard_tokens

    tok = tokkit.load(model_dir)
    for item in iter_shard_tokens(out):
        np.testing.assert_array_equal(item.codes, tok.encode(folder / item.meta["source"], tokens=3).codes)
    code, stdout, err = run_cli("encode", folder, "-t", model_dir, "--tokens", "3", "--out-dir", out)
    assert code == 0 and b"already done" in stdout, err
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, _, err = run_cli("encode", folder, "-t", model_dir, "--tokens", "4", "--out-dir", out)
    assert code != 0 and err.count("\n") == 1 and "{'tokens': 3}" in err and "resume with the same options" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_per_frame_token_counts_from_the_cli(run_cli, model_dir, tmp_path) -> None:
    """--frame-tokens gives each frame its own K; the token file records the per-frame lengths."""
    src = tmp_path / "four.mp4"
    write_video(iter(clip(4, 16, 16)), src, 16.0, 16, 16)
    code, _, err = run_cli("encode", src, "-t", model_dir, "--frame-tokens", "8,2,5,1", "-o", tmp_path / "four.tok")
    assert code == 0, err
    tokens = tokkit.load_tokens(tmp_path / "four.tok")
    assert tokens.meta["frame_tokens"] == [8, 2, 5, 1] and tokens.codes.shape == (16,)
    code, _, err = run_cli("decode", tmp_path / "four.tok", "-o", tmp_path / "four.y4m", "-t", model_dir)
    assert code == 0, err
    assert len(list(read_frames(tmp_path / "four.y4m", 16.0))) == 4
    code, _, err = run_cli("encode", src, "-t", model_dir, "--frame-tokens", "8,2", "-o", tmp_path / "two.tok")
    assert code != 0 and err.count("\n") == 1 and "per-frame" in err and not (tmp_path / "two.tok").exists()
