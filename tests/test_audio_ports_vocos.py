"""Vocos port (mel vocoder and EnCodec-code decoder) against golden outputs of the authors' ``vocos`` package
(scripts/make_audio_port_fixtures.py: small random-weight models saved as config.yaml + pytorch_model.bin)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tokkit.codecs.audio.published.vocos import load_vocos
from tokkit.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "audio_ports"


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    out = load_file(str(FIXTURES / "vocos_small_outputs.safetensors"))
    out.update(load_file(str(FIXTURES / "encodec_small_outputs.safetensors")))
    return out


def test_htk_mel_features_match_the_reference(golden):
    model = load_vocos(FIXTURES / "vocos_mel_small")
    with torch.inference_mode():
        mel = model.mel(torch.from_numpy(golden["audio"])[None])[0].numpy()
    np.testing.assert_allclose(mel, golden["mel"], rtol=1e-5, atol=1e-5)


def test_mel_vocoder_matches_the_reference(golden):
    model = load_vocos(FIXTURES / "vocos_mel_small")
    with torch.inference_mode():
        audio = model.vocode(torch.from_numpy(golden["mel"])[None])[0].numpy()
    np.testing.assert_allclose(audio, golden["mel_audio"], rtol=0, atol=1e-5)


def test_encodec_code_decoder_matches_the_reference(golden):
    model = load_vocos(FIXTURES / "vocos_encodec_small")
    assert (model.config.n_q, model.config.codebook_size) == (8, 64)
    codes = torch.from_numpy(golden["codes"][:4])[None]
    with torch.inference_mode():
        features = model.embed(codes)
        audio = model.vocode(features, torch.tensor([model.bandwidth_id(4)]))[0].numpy()
    np.testing.assert_allclose(features[0].numpy(), golden["encodec_features"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(audio, golden["encodec_audio"], rtol=0, atol=1e-5)
    with pytest.raises(InputError, match="2, 4, 8 codebooks"):
        model.bandwidth_id(3)


def test_bad_vocos_folders_are_refused(tmp_path):
    with pytest.raises(InputError, match="config.yaml"):
        load_vocos(tmp_path)
    (tmp_path / "config.yaml").write_text("feature_extractor: 3\n")
    with pytest.raises(InputError, match="not a Vocos config.yaml"):
        load_vocos(tmp_path)


# -- Vocos as the decoder of an EnCodec tokenizer --------------------------------------------------
VOCOS_ENCODEC = FIXTURES / "vocos_encodec_small"
TH = FIXTURES / "encodec_small.th"
SPEECH = Path(__file__).resolve().parent.parent / "samples" / "speech.wav"


@pytest.fixture(scope="module")
def pair():
    import tokkit

    return tokkit.load(VOCOS_ENCODEC, encodec=TH, device="cpu")


def test_paired_tokenizer_decodes_encodec_codes_as_the_reference_vocos(pair, golden):
    audio = pair.decode_codes(golden["codes"][:4])
    np.testing.assert_allclose(audio, golden["encodec_audio"], rtol=0, atol=1e-5)


def test_paired_decode_in_windows_equals_one_pass(pair, golden):
    codes = np.tile(golden["codes"][:8], 3)
    whole = pair.decode_codes(codes)
    saved = pair.chunk_samples
    pair.chunk_samples = 40 * pair.config.hop  # windows of 40 frames, each with its context on both sides
    try:
        windowed = pair.decode_codes(codes)
    finally:
        pair.chunk_samples = saved
    assert windowed.shape == whole.shape == (codes.shape[1] * pair.config.hop,)
    np.testing.assert_allclose(windowed, whole, rtol=0, atol=1e-5 * np.abs(whole).max())


def test_paired_tokenizer_shares_the_encodec_identity_and_codes(pair, golden):
    import tokkit

    encodec = tokkit.load(TH, device="cpu")
    assert pair.identity["hash"] == encodec.identity["hash"]
    tokens = encodec.encode(golden["audio"])  # all 8 codebooks: Vocos decodes them (its top bandwidth)
    np.testing.assert_array_equal(pair.encode(golden["audio"]).codes, tokens.codes)
    assert pair.decode(tokens).samples.shape == golden["audio"].shape
    three = encodec.encode(golden["audio"], codebooks=3)  # decoded from its 2-codebook prefix
    np.testing.assert_allclose(pair.decode_codes(three.codes), pair.decode_codes(three.codes[:2]), rtol=0, atol=0)
    with pytest.raises(InputError, match="2, 4, 8"):
        pair.encode(golden["audio"], codebooks=3)
    assert pair.describe()["decoder"] == "vocos"


def test_a_vocos_folder_alone_is_not_a_tokenizer():
    import tokkit

    with pytest.raises(InputError, match="no encoder: pair it with an EnCodec"):
        tokkit.load(VOCOS_ENCODEC)
    with pytest.raises(InputError, match="mel vocoder"):
        tokkit.load(FIXTURES / "vocos_mel_small")
    with pytest.raises(InputError, match="only its EnCodec variant"):
        tokkit.load(FIXTURES / "vocos_mel_small", encodec=TH)
    with pytest.raises(InputError, match="not an EnCodec checkpoint"):
        tokkit.load(VOCOS_ENCODEC, encodec="audio")


def test_pair_from_the_cli(run_cli, tmp_path):
    import json

    import tokkit

    folder = tmp_path / "encodec_vocos"
    code, out, err = run_cli("convert", VOCOS_ENCODEC, "--encodec", TH, "-o", folder)
    assert code == 0, err
    paired = tokkit.load(folder, device="cpu")
    assert paired.kind == "audio.encodec_vocos" and paired.identity["hash"] == tokkit.load(TH).identity["hash"]
    tok = tmp_path / "speech.tok"
    assert run_cli("encode", SPEECH, "-t", TH, "--codebooks", "4", "-o", tok)[0] == 0  # plain EnCodec tokens
    wav = tmp_path / "vocos.wav"
    code, out, err = run_cli("decode", tok, "-t", folder, "-o", wav)
    assert code == 0, err
    import soundfile as sf

    assert sf.info(str(wav)).frames == sf.info(str(SPEECH)).frames
    code, out, err = run_cli("info", folder, "--json")
    assert code == 0 and json.loads(out)["decoder"] == "vocos"
    code, out, err = run_cli("encode", SPEECH, "-t", VOCOS_ENCODEC, "-o", tmp_path / "x.tok")
    assert code != 0 and "no encoder" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.tok").exists()
