"""`tokkit encode/decode/info/train audio` end to end with a tiny saved codec."""

from __future__ import annotations

import json
import re

import numpy as np
import soundfile as sf

import tokkit
from tokkit.codecs.audio.config import CodecConfig

from audio_helpers import TINY, speechlike, tiny_tokenizer


def test_encode_decode_info_round_trip(run_cli, tmp_path) -> None:
    codec = tiny_tokenizer().save(tmp_path / "codec")
    wav = tmp_path / "speech.wav"
    sf.write(wav, speechlike(1.5, 16000), 16000)
    code, out, err = run_cli("encode", wav, "-t", codec, "-o", tmp_path / "speech.tok")
    assert code == 0, err
    code, out, err = run_cli("info", tmp_path / "speech.tok")
    assert code == 0, err
    facts = dict(line.split(None, 1) for line in out.decode().splitlines())
    assert facts["modality"] == "audio" and facts["tokens"] == "150"
    assert float(facts["duration_s"]) == 1.5 and float(facts["tokens_per_s"]) == 100.0
    code, out, err = run_cli("decode", tmp_path / "speech.tok", "-o", tmp_path / "back.wav", "-t", codec)
    assert code == 0, err
    info = sf.info(tmp_path / "back.wav")
    assert info.samplerate == 16000 and info.frames == 24000


def test_encode_garbage_is_one_line_error_and_no_output(run_cli, tmp_path) -> None:
    codec = tiny_tokenizer().save(tmp_path / "codec")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF but not really" * 10)
    code, out, err = run_cli("encode", bad, "-t", codec)
    assert code != 0 and err.startswith("tokkit: error:") and "Traceback" not in err
    assert not (tmp_path / "bad.tok").exists()


def test_train_then_resume_then_load(run_cli, tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        sf.write(data / f"clip{i}.wav", speechlike(1.2, 16000, seed=i), 16000)
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    out = tmp_path / "run"
    code, stdout, err = run_cli("train", "audio", "--data", data, "--config", config, "-o", out,
                                "--max-minutes", "0.03", "--batch-size", "2", "--device", "cpu")
    assert code == 0, err
    assert "step" in err or "done" in err
    first = (out / "final" / "config.json").read_text()
    assert CodecConfig.from_dict(json.loads(first)) == CodecConfig(**TINY)
    code, stdout, err = run_cli("train", "audio", "--data", data, "-o", out, "--resume",
                                "--max-minutes", "0.06", "--batch-size", "2", "--device", "cpu")
    assert code == 0, err
    assert "resumed at step" in err
    codec = tokkit.load(out / "final")
    tokens = codec.encode(speechlike(0.5, 8000))
    assert tokens.codes.shape == (50,) and np.isfinite(codec.decode(tokens).samples).all()


def test_train_refuses_resume_without_checkpoint(run_cli, tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    sf.write(data / "a.wav", speechlike(1.0, 8000), 8000)
    code, _, err = run_cli("train", "audio", "--data", data, "-o", tmp_path / "run", "--resume")
    assert code != 0 and "no checkpoint.pt" in err


def test_train_with_discriminators_checkpoints_them(run_cli, tmp_path) -> None:
    import torch

    data = tmp_path / "data"
    data.mkdir()
    sf.write(data / "a.wav", speechlike(1.5, 8000), 8000)
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    out = tmp_path / "run"
    code, _, err = run_cli("train", "audio", "--data", data, "--config", config, "-o", out, "--discriminators",
                           "--max-minutes", "0.03", "--batch-size", "2", "--device", "cpu")
    assert code == 0, err
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] >= 1 and "discriminators" in state and "discriminator_optimizer" in state
    budget = f"{state['elapsed'] / 60 + 0.02:.4f}"  # a little more than already spent
    code, _, err = run_cli("train", "audio", "--data", data, "-o", out, "--resume", "--discriminators",
                           "--max-minutes", budget, "--batch-size", "2", "--device", "cpu")
    assert code == 0, err
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] > state["step"]


def test_an_rvq_codec_trains_saves_and_loads(tmp_path) -> None:
    from audio_helpers import TINY_RVQ
    from tokkit.codecs.audio.train import TrainOptions, train

    data = tmp_path / "data"
    data.mkdir()
    sf.write(data / "a.wav", speechlike(1.5, 8000), 8000)
    final = train(CodecConfig(**TINY_RVQ), TrainOptions(data=str(data), out=str(tmp_path / "run"), max_minutes=0.02,
                                                        batch_size=2, log_every=1))
    codec = tokkit.load(final)
    assert codec.encode(speechlike(0.3, 8000)).codes.shape == (3, 30)


def test_codebooks_and_bandwidth_flags_pick_the_bitrate(run_cli, tmp_path) -> None:
    from audio_helpers import TINY_RFSQ

    codec = tiny_tokenizer(config=TINY_RFSQ).save(tmp_path / "codec")
    wav = tmp_path / "speech.wav"
    sf.write(wav, speechlike(0.5, 8000), 8000)
    for flags, rows in ((["--codebooks", "1"], 1), (["--bandwidth", "1.2"], 2)):
        target = tmp_path / f"speech{rows}.tok"
        code, out, err = run_cli("encode", wav, "-t", codec, "-o", target, *flags)
        assert code == 0, err
        tokens = tokkit.load_tokens(target)
        assert tokens.codes.shape == (rows, 50) and tokens.meta["codebooks"] == rows
    code, out, err = run_cli("decode", tmp_path / "speech1.tok", "-o", tmp_path / "back.wav", "-t", codec)
    assert code == 0, err
    assert sf.info(tmp_path / "back.wav").frames == 4000
    code, out, err = run_cli("encode", wav, "-t", codec, "-o", tmp_path / "x.tok", "--codebooks", "9")
    assert code != 0 and len(err.strip().splitlines()) == 1 and "codebooks" in err


def test_warm_started_residual_codec_trains_with_fresh_lr_and_resumes(tmp_path, capsys) -> None:
    import torch

    from audio_helpers import TINY_RFSQ
    from tokkit.codecs.audio.train import TrainOptions, train

    data = tmp_path / "data"
    data.mkdir()
    sf.write(data / "a.wav", speechlike(1.5, 8000), 8000)
    saved = tiny_tokenizer(seed=2).save(tmp_path / "fsq")
    options = TrainOptions(data=str(data), out=str(tmp_path / "run"), max_minutes=0.01, batch_size=2, log_every=1,
                           init_from=str(saved), fresh_lr_scale=10.0, lr=1e-4, warmup_steps=1, stoi_weight=0.5)
    train(CodecConfig(**TINY_RFSQ), options)
    assert re.search(r"step \d+ \| mel [^\n]* \| stoi -?\d", capsys.readouterr().err)  # logged beside mel, stft
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["fresh"] and [g.get("lr_scale", 1.0) for g in state["optimizer"]["param_groups"]] == [1.0, 10.0]
    options.max_minutes = 0.02
    final = train(CodecConfig(**TINY_RFSQ), options, resume=True)
    assert tokkit.load(final).encode(speechlike(0.3, 8000), codebooks=2).codes.shape == (2, 30)
