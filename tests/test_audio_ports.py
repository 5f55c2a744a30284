"""Published-codec ports against golden outputs of the authors' code (scripts/make_audio_port_fixtures.py).

The fixtures hold a reduced-width EnCodec with random weights (codebooks re-initialised from real
speech residuals), exported as the ``encodec`` package's ``.th`` and as a HF snapshot, and the
reference's latents, codes, top-2 distance gaps and decoded audio. No reference package is needed here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import tokkit
from tokkit.errors import InputError, TokkitError, UnsupportedFormatError

FIXTURES = Path(__file__).parent / "fixtures" / "audio_ports"
TH = FIXTURES / "encodec_small.th"
HF = FIXTURES / "encodec_small_hf"
SPEECH = Path(__file__).resolve().parent.parent / "samples" / "speech.wav"
NEAR_TIE = 1e-3


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(FIXTURES / "encodec_small_outputs.safetensors"))


@pytest.fixture(scope="module")
def port():
    return tokkit.load(TH, device="cpu")


#: how far the reference's own float32 decode may sit from the same network in float64, as a fraction of its
#: peak: the reduced test models amplify rounding (measured: DAC 0.5e-4-0.8e-4, SNAC 2.3e-4-2.8e-4); a wrong
#: layer or weight in the port is off by far more
FLOAT32_CONDITIONING = 5e-4


def assert_windowed_encode_is_exact(path, golden: dict, monkeypatch) -> None:
    """A windowed port (DAC, SNAC): windows on the conv grid, one after another or two at once in threads, give
    the whole-file codes bit for bit (near-ties included)."""
    from tokkit.nn import windows

    monkeypatch.setattr(windows, "PARALLEL_OVERHEAD", 10.0)  # split this short file in two whatever its context
    port = tokkit.load(path, device="cpu")
    n_q = port.config.n_q
    audio = np.tile(golden["audio"], -(-(3 * port.encode_grid + port.encode_context) // golden["audio"].size))
    port.window_samples = 10 ** 9
    whole = port.encode_samples(audio, n_q)
    port.window_samples = port.encode_grid
    assert audio.size >= 3 * port.window_samples + port.encode_context
    assert np.array_equal(port.encode_samples(audio, n_q), whole)
    port.window_samples = 10 ** 9
    port.workers = lambda: 2
    assert np.array_equal(port.encode_samples(audio, n_q), whole)


def exact_decode(model: torch.nn.Module, codes: np.ndarray, seed: int | None = None) -> np.ndarray:
    """The port's network run in float64 on ``codes`` (rows, T): (N,) audio, the arithmetic without float32
    rounding (``seed``: the decoder noise generator's seed, for SNAC)."""
    import copy

    exact = copy.deepcopy(model).double()
    with torch.inference_mode():
        batch = torch.from_numpy(np.asarray(codes))[None]
        audio = exact.decode(batch) if seed is None else exact.decode(batch, torch.Generator().manual_seed(seed))
    return audio[0].numpy()


def assert_decoded_matches(ours: np.ndarray, theirs: np.ndarray, exact: np.ndarray, rtol: float = 1e-4) -> None:
    """Decoded audio of the port against the reference's on the same codes: within ``rtol`` of the reference's
    peak plus twice the reference's own float32 error (its distance to ``exact``, the same network in float64),
    and that error itself within FLOAT32_CONDITIONING (the port's arithmetic is the reference's). Two float32
    runs of one network with different (equally valid) convolution kernels differ by about their rounding."""
    ours, theirs, exact = (np.asarray(a, np.float64).reshape(-1) for a in (ours, theirs, exact))
    assert ours.shape == theirs.shape == exact.shape
    peak = np.abs(theirs).max()
    reference_error = np.abs(theirs - exact).max() / peak
    assert reference_error <= FLOAT32_CONDITIONING, reference_error
    difference = np.abs(ours - theirs).max() / peak
    assert difference <= rtol + 2 * reference_error, (difference, reference_error)


def compare_codes(ours: np.ndarray, theirs: np.ndarray, gaps: np.ndarray) -> tuple[int, int]:
    """Codes (q, T) compared level by level per frame: a frame is compared until the reference's first
    near-tie (gap <= NEAR_TIE); past it the residuals legitimately differ. Returns (compared, skipped)
    and fails on any difference among compared codes."""
    compared = skipped = 0
    for frame in range(theirs.shape[1]):
        for level in range(theirs.shape[0]):
            if gaps[level, frame] <= NEAR_TIE:
                skipped += theirs.shape[0] - level
                break
            assert ours[level, frame] == theirs[level, frame], (level, frame)
            compared += 1
    return compared, skipped


def test_latents_match_the_reference(port, golden):
    with torch.inference_mode():
        latents = port.model.latents(torch.from_numpy(golden["audio"])[None])[0].numpy()
    np.testing.assert_allclose(latents, golden["latents"], rtol=1e-5, atol=1e-5 * np.abs(golden["latents"]).max())


def test_codes_match_the_reference_except_near_ties(port, golden):
    codes = port.encode(golden["audio"]).codes
    assert codes.shape == golden["codes"].shape
    compared, skipped = compare_codes(codes, golden["codes"], golden["gaps"])
    print(f"EnCodec codes: {compared} compared and equal, {skipped} after a near-tie (gap <= {NEAR_TIE}) not compared")
    assert compared >= 0.4 * codes.size  # the test proves something: most of levels 0-2 are compared
    assert all(len(np.unique(level)) >= 10 for level in golden["codes"])  # no single code wins everywhere


def test_codebook_prefix_matches_the_reference(port, golden):
    codes = port.encode(golden["audio"], codebooks=3).codes
    assert codes.shape == (3, golden["codes"].shape[1])
    compare_codes(codes, golden["codes_prefix3"], golden["gaps"][:3])
    by_bandwidth = port.encode(golden["audio"], bandwidth=3 * port.config.kbps_per_codebook).codes
    np.testing.assert_array_equal(by_bandwidth, codes)


def test_decoded_audio_matches_the_reference_on_the_same_codes(port, golden):
    decoded = port.decode_codes(golden["codes"])
    np.testing.assert_allclose(decoded, golden["decoded"], rtol=0, atol=1e-5)


def test_streamed_pieces_equal_the_whole_pass(port, golden):
    """Any piece sizes give the whole-file latents and audio (to float rounding: kernels vary with length)."""
    audio = torch.from_numpy(golden["audio"])[None, None]
    with torch.inference_mode():
        whole = port.model.encoder(audio)
        for size in (320 * 7 + 13, 320 * 40):
            state: dict = {}
            parts = [port.model.encoder.stream(audio[..., s:s + size], state, s + size >= audio.shape[-1])
                     for s in range(0, audio.shape[-1], size)]
            torch.testing.assert_close(torch.cat(parts, -1), whole, rtol=1e-5, atol=1e-5 * float(whole.abs().max()))
        speech = port.model.decoder(whole)
        for size in (3, 50):
            state = {}
            parts = [port.model.decoder.stream(whole[..., s:s + size], state, s + size >= whole.shape[-1])
                     for s in range(0, whole.shape[-1], size)]
            torch.testing.assert_close(torch.cat(parts, -1), speech, rtol=1e-5, atol=1e-6)


def test_windowed_encode_gives_the_whole_file_codes(golden):
    """The tokenizer streams on a fixed grid; a grid of 0.2 s pieces gives the one-piece codes."""
    whole = tokkit.load(TH, device="cpu")
    windowed = tokkit.load(TH, device="cpu")
    windowed.chunk_samples = 320 * 15
    a, b = whole.encode(golden["audio"]).codes, windowed.encode(golden["audio"]).codes
    compare_codes(b, a, golden["gaps"])
    # the prefix property of a causal stream: a file's first second encodes as the first second of the file
    head = whole.encode(golden["audio"][:24000]).codes
    np.testing.assert_array_equal(head[:, :-1], a[:, :head.shape[1] - 1])


def test_hf_snapshot_is_the_same_checkpoint(port):
    snapshot = tokkit.load(HF, device="cpu")
    assert snapshot.identity["hash"] == port.identity["hash"]
    for key, value in port.model.state_dict().items():
        torch.testing.assert_close(snapshot.model.state_dict()[key], value, rtol=0, atol=0)
    assert snapshot.config.sample_rate == 24000


def test_full_24khz_architecture_loads_from_the_release_layout():
    """The real encodec_24khz tensor names and shapes (recorded from the reference) build the default port."""
    from tokkit.codecs.audio.published.encodec import EncodecConfig, from_reference

    shapes = json.loads((FIXTURES / "encodec_24khz_shapes.json").read_text())
    state = {name: torch.full(shape, 0.5) for name, shape in shapes.items()}
    model = from_reference(state, "encodec_24khz-d7cc33bc.th")
    assert model.config == EncodecConfig()
    assert model.config.n_q == 32 and model.config.frame_rate == 75 and model.config.kbps_per_codebook == 0.75
    state["encoder.model.3.conv.conv.weight_v"] = torch.rand(64, 32, 6)
    with pytest.raises(InputError, match=r"bad.th: .* has shape"):
        from_reference(state, "bad.th")


def test_describe_reports_codec_rate_codebooks_and_kbps(port):
    facts = port.describe()
    assert facts["codec"] == "encodec_24khz" and facts["sample_rate"] == 24000
    assert facts["codebooks"] == 8 and facts["tokens_per_s"] == 75
    assert facts["kbps"] == pytest.approx(8 * 75 * 6 / 1000)


def test_too_many_codebooks_is_refused(port, golden):
    with pytest.raises(InputError, match="codebooks"):
        port.encode(golden["audio"], codebooks=9)
    with pytest.raises(InputError, match="kbps"):
        port.encode(golden["audio"], bandwidth=24.0)


# -- files and the CLI ---------------------------------------------------------------------------------
def test_convert_encode_decode_from_the_cli(run_cli, tmp_path):
    folder = tmp_path / "encodec"
    code, out, err = run_cli("convert", TH, "-o", folder)
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    converted = tokkit.load(folder, device="cpu")
    assert converted.identity["hash"] == tokkit.load(TH, device="cpu").identity["hash"]

    tok = tmp_path / "speech.tok"
    code, out, err = run_cli("encode", SPEECH, "-t", TH, "--codebooks", "4", "-o", tok)
    assert code == 0, err
    items = tokkit.load_tokens(tok)
    assert items.codes.shape[0] == 4 and items.meta["original_sample_rate"] == 22050
    code, out, err = run_cli("info", folder, "--json")
    facts = json.loads(out)
    assert facts["codec"] == "encodec_24khz" and facts["codebooks"] == 8
    wav = tmp_path / "back.wav"
    code, out, err = run_cli("decode", tok, "-t", folder, "-o", wav)  # converted folder decodes .th tokens
    assert code == 0, err
    import soundfile as sf

    info = sf.info(str(wav))
    assert info.samplerate == 22050 and abs(info.frames - sf.info(str(SPEECH)).frames) == 0


def test_tokens_from_another_checkpoint_are_refused(run_cli, tmp_path):
    state = torch.load(TH, weights_only=True)
    state["decoder.model.0.conv.conv.bias"] = state["decoder.model.0.conv.conv.bias"] + 1
    other = tmp_path / "other.th"
    torch.save(state, other)
    tok = tmp_path / "a.tok"
    assert run_cli("encode", SPEECH, "-t", TH, "-o", tok)[0] == 0
    code, out, err = run_cli("decode", tok, "-t", other, "-o", tmp_path / "x.wav")
    assert code != 0 and "hash" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.wav").exists()


def test_shards_with_a_published_checkpoint(run_cli, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(SPEECH, inputs / "a.wav")
    code, out, err = run_cli("encode", inputs, "-t", TH, "--out-dir", tmp_path / "shards")
    assert code == 0, err
    manifest = json.loads((tmp_path / "shards" / "manifest.json").read_text())
    assert manifest["tokenizer"]["hash"] == tokkit.load(TH, device="cpu").identity["hash"]


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    import argparse

    truncated = tmp_path / "truncated.th"
    truncated.write_bytes(TH.read_bytes()[:5000])
    refused = tmp_path / "refused.pth"
    torch.save({"args": argparse.Namespace(x=1), "w": torch.zeros(2)}, refused)
    unknown = tmp_path / "unknown.pth"
    torch.save({"layer.weight": torch.zeros(3, 3)}, unknown)
    mismatched = tmp_path / "mismatched"
    shutil.copytree(HF, mismatched)
    config = json.loads((mismatched / "config.json").read_text())
    config["codebook_size"] = 128
    (mismatched / "config.json").write_text(json.dumps(config))
    return {"truncated": truncated, "refused": refused, "unknown": unknown, "mismatched": mismatched}


@pytest.mark.parametrize("case, message", [("truncated", "cannot read the checkpoint"),
                                           ("refused", "weights_only"),
                                           ("unknown", "unknown checkpoint layout"),
                                           ("mismatched", "codebook_size 128")])
def test_bad_checkpoints_fail_in_one_line_and_write_nothing(run_cli, tmp_path, case, message):
    path = _bad_files(tmp_path)[case]
    with pytest.raises((InputError, UnsupportedFormatError)):
        tokkit.load(path, device="cpu")
    code, out, err = run_cli("encode", SPEECH, "-t", path, "-o", tmp_path / "out.tok")
    assert code != 0 and message in err and len(err.strip().splitlines()) == 1 and str(path.name) in err
    assert not (tmp_path / "out.tok").exists()
    code, out, err = run_cli("convert", path, "-o", tmp_path / "conv")
    assert code != 0 and not (tmp_path / "conv").exists()


def test_too_many_codebooks_from_the_cli_writes_nothing(run_cli, tmp_path):
    code, out, err = run_cli("encode", SPEECH, "-t", TH, "--codebooks", "9", "-o", tmp_path / "o.tok")
    assert code != 0 and "codebooks" in err and not (tmp_path / "o.tok").exists()
    with pytest.raises(TokkitError):
        tokkit.load(TH, device="cpu").encode(np.zeros(10, np.float32) + 0.1, bandwidth=-1)
