"""The DAC port against golden outputs of the authors' code (scripts/make_dac_snac_fixtures.py).

Two reduced-width DACs with random weights (codebooks re-initialised from real speech), saved as the
authors' ``weights.pth`` (state dict + metadata kwargs): the 44.1 kHz strides (hop 512) and the odd-stride
16 kHz layout (hop 320). No reference package is needed here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_audio_ports import (
    NEAR_TIE, assert_decoded_matches, assert_windowed_encode_is_exact, compare_codes, exact_decode,
)

import tokkit
from tokkit.errors import InputError, TokkitError

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: tiny models, one thread

FIXTURES = Path(__file__).parent / "fixtures" / "audio_ports"
SPEECH = Path(__file__).resolve().parent.parent / "samples" / "speech.wav"
MODELS = ("dac_small", "dac_small_odd")


@pytest.fixture(scope="module", params=MODELS)
def case(request):
    from safetensors.numpy import load_file

    path = FIXTURES / f"{request.param}.pth"
    return path, tokkit.load(path, device="cpu"), load_file(str(FIXTURES / f"{request.param}_outputs.safetensors"))


def test_latents_match_the_reference(case):
    _, port, golden = case
    with torch.inference_mode():
        latents = port.model.latents(torch.from_numpy(golden["audio"])[None])[0].numpy()
    np.testing.assert_allclose(latents, golden["latents"], rtol=1e-5, atol=1e-5 * np.abs(golden["latents"]).max())


def test_codes_match_the_reference_except_near_ties(case):
    path, port, golden = case
    codes = port.encode(golden["audio"]).codes
    assert codes.shape == golden["codes"].shape
    compared, skipped = compare_codes(codes, golden["codes"], golden["gaps"])
    print(f"{path.name}: {compared} codes compared and equal, {skipped} after a near-tie (gap <= {NEAR_TIE}) not compared")
    assert compared >= 0.9 * codes.size
    assert all(len(np.unique(level)) >= 20 for level in golden["codes"])  # no single code wins everywhere


def test_codebook_prefix_and_bandwidth(case):
    _, port, golden = case
    codes = port.encode(golden["audio"], codebooks=2).codes
    compare_codes(codes, golden["codes_prefix2"], golden["gaps"][:2])
    by_bandwidth = port.encode(golden["audio"], bandwidth=2.5 * port.config.kbps_per_codebook).codes
    np.testing.assert_array_equal(by_bandwidth, codes)
    with pytest.raises(InputError, match="codebooks"):
        port.encode(golden["audio"], codebooks=port.config.n_q + 1)


def test_decoded_audio_matches_the_reference_on_the_same_codes(case):
    _, port, golden = case
    decoded = port.decode_codes(golden["codes"])
    assert decoded.shape == golden["decoded"].shape
    assert_decoded_matches(decoded, golden["decoded"], exact_decode(port.model, golden["codes"]))


def test_windows_give_the_whole_file_result(case):
    """Overlapping windows (context = the receptive field) give the one-window codes and audio."""
    path, port, golden = case
    windowed = tokkit.load(path, device="cpu")
    windowed.window_samples = port.config.hop * 7
    assert golden["audio"].size > 4 * windowed.window_samples
    compare_codes(windowed.encode(golden["audio"]).codes, golden["codes"], golden["gaps"])
    assert_decoded_matches(windowed.decode_codes(golden["codes"]), golden["decoded"],
                           exact_decode(port.model, golden["codes"]))


def test_metadata_gives_the_sample_rate_and_describe_reports_it(case):
    path, port, _ = case
    kwargs = torch.load(path, weights_only=True)["metadata"]["kwargs"]
    facts = port.describe()
    assert facts["sample_rate"] == kwargs["sample_rate"] and facts["codebooks"] == kwargs["n_codebooks"]
    assert facts["kind"] == "audio.dac" and facts["tokens_per_s"] == pytest.approx(kwargs["sample_rate"] / port.config.hop)
    assert facts["kbps"] == pytest.approx(kwargs["n_codebooks"] * 6 * facts["tokens_per_s"] / 1000)


def test_full_44khz_architecture_loads_from_the_release_layout():
    """The real DAC 44.1 kHz tensor names and shapes (recorded from the reference) give the released config."""
    from tokkit.codecs.audio.published.dac import canonical_keys, infer_config

    shapes = json.loads((FIXTURES / "dac_44khz_shapes.json").read_text())
    state = {name: torch.empty(shape) for name, shape in shapes.items()}
    config = infer_config(canonical_keys(state, ""), {}, "weights.pth")
    assert config.sample_rate == 44100 and config.n_q == 9 and config.hop == 512
    assert config.net.encoder_rates == (2, 4, 8, 8) and config.net.decoder_rates == (8, 8, 4, 2)
    assert config.net.latent_dim == 1024 and config.net.decoder_dim == 1536 and config.codebook_dim == 8
    from tokkit.codecs.audio.published.dac import DACModel

    expected = {name: tuple(value.shape) for name, value in DACModel(config).state_dict().items()}
    assert {name: tuple(value.shape) for name, value in canonical_keys(state, "").items()} == expected


# -- files, the CLI and bad input -----------------------------------------------------------------------
PTH = FIXTURES / "dac_small.pth"


def test_convert_encode_decode_info_from_the_cli(run_cli, tmp_path):
    folder = tmp_path / "dac"
    code, out, err = run_cli("convert", PTH, "-o", folder)
    assert code == 0, err
    assert json.loads((folder / "config.json").read_text())["kind"] == "audio.dac"
    original = tokkit.load(PTH, device="cpu")
    assert tokkit.load(folder, device="cpu").identity["hash"] == original.identity["hash"]
    tok = tmp_path / "speech.tok"
    code, out, err = run_cli("encode", SPEECH, "-t", PTH, "--codebooks", "3", "-o", tok)
    assert code == 0, err
    items = tokkit.load_tokens(tok)
    assert items.codes.shape[0] == 3 and items.meta["tokenizer"]["hash"] == original.identity["hash"]
    code, out, err = run_cli("info", folder, "--json")
    assert code == 0 and json.loads(out)["codec"] == "dac_44khz"
    wav = tmp_path / "back.wav"
    code, out, err = run_cli("decode", tok, "-t", folder, "-o", wav)
    assert code == 0, err
    import soundfile as sf

    assert sf.info(str(wav)).frames == sf.info(str(SPEECH)).frames


def test_tokens_from_another_checkpoint_are_refused(run_cli, tmp_path):
    saved = torch.load(PTH, weights_only=True)
    saved["state_dict"]["decoder.model.0.bias"] = saved["state_dict"]["decoder.model.0.bias"] + 1
    other = tmp_path / "other.pth"
    torch.save(saved, other)
    tok = tmp_path / "a.tok"
    assert run_cli("encode", SPEECH, "-t", PTH, "-o", tok)[0] == 0
    code, out, err = run_cli("decode", tok, "-t", other, "-o", tmp_path / "x.wav")
    assert code != 0 and "hash" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.wav").exists()


def _bad(tmp_path: Path, case: str) -> Path:
    saved = torch.load(PTH, weights_only=True)
    path = tmp_path / f"{case}.pth"
    if case == "metadata_mismatch":
        saved["metadata"]["kwargs"]["n_codebooks"] = 5
    elif case == "no_metadata":  # not a released configuration: the sample rate cannot be known
        saved = saved["state_dict"]
    elif case == "truncated":
        path.write_bytes(PTH.read_bytes()[:20000])
        return path
    elif case == "wrong_shape":
        saved["state_dict"]["quantizer.quantizers.1.codebook.weight"] = torch.zeros(64, 4)
    torch.save(saved, path)
    return path


@pytest.mark.parametrize("case, message", [("metadata_mismatch", "metadata says n_codebooks=5"),
                                           ("no_metadata", "no sample rate"),
                                           ("truncated", "cannot read the checkpoint"),
                                           ("wrong_shape", "codebooks of different widths")])
def test_bad_dac_files_fail_in_one_line_and_write_nothing(run_cli, tmp_path, case, message):
    path = _bad(tmp_path, case)
    with pytest.raises(TokkitError):
        tokkit.load(path, device="cpu")
    code, out, err = run_cli("encode", SPEECH, "-t", path, "-o", tmp_path / "out.tok")
    assert code != 0 and message in err and len(err.strip().splitlines()) == 1 and path.name in err
    assert not (tmp_path / "out.tok").exists()



def test_per_level_codebook_dim_in_metadata_is_accepted(tmp_path):
    saved = torch.load(PTH, weights_only=True)
    saved["metadata"]["kwargs"]["codebook_dim"] = [8, 8, 8, 8]  # DAC's constructor takes one width per level
    torch.save(saved, tmp_path / "listed.pth")
    assert tokkit.load(tmp_path / "listed.pth", device="cpu").identity["hash"] == tokkit.load(PTH, device="cpu").identity["hash"]
    saved["metadata"]["kwargs"]["codebook_dim"] = [8, 8, 4, 8]
    torch.save(saved, tmp_path / "mixed.pth")
    with pytest.raises(InputError, match="codebook_dim"):
        tokkit.load(tmp_path / "mixed.pth", device="cpu")


def test_windows_one_after_another_or_in_threads_give_the_whole_file_codes_bit_for_bit(case, monkeypatch):
    """Windows start on the grid of the chunked dilated convolutions, so every kept latent rounds exactly as
    in one whole-file pass: windowed codes equal whole-file codes everywhere (near-ties included), also with
    two windows encoded at once in threads."""
    path, _, golden = case
    assert_windowed_encode_is_exact(path, golden, monkeypatch)


def test_a_round_trip_keeps_the_length_when_the_decoder_makes_fewer_samples():
    """A decoder with an odd upsampling stride (DAC 24 kHz: 5) makes a few samples fewer than frames x hop, as the
    authors' code does; decode pads the tail with silence so that the audio is as long as what was encoded."""
    from tokkit.codecs.audio.io import Audio
    from tokkit.codecs.audio.published.windowed import DACTokenizer

    tokenizer = DACTokenizer.example_tokenizer(rates=(2, 5))
    audio = (np.random.default_rng(0).standard_normal(1600) * 0.1).astype(np.float32)
    codes = tokenizer.encode_samples(audio, 4)
    assert tokenizer.decode_codes(codes).size < codes.shape[-1] * 10  # the decoder itself comes up short
    decoded = tokenizer.decode(tokenizer.encode(Audio(audio, 16000)))
    assert decoded.samples.shape[-1] == 1600
