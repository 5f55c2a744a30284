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
