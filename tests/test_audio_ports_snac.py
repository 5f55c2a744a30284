"""The SNAC port against golden outputs of the authors' code (scripts/make_dac_snac_fixtures.py).

Two reduced-width SNACs with random weights (codebooks re-initialised from real speech), saved as the authors'
HF snapshot folder (config.json + pytorch_model.bin): the 24 kHz layout (strides 4-2-1, no attention) and
the 32 kHz layout (strides 8-4-2-1, local attention). No reference package is needed here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from test_audio_ports import NEAR_TIE, assert_decoded_matches, assert_windowed_encode_is_exact, exact_decode

import tokkit
from tokkit.errors import InputError, TokkitError

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: tiny models, one thread

FIXTURES = Path(__file__).parent / "fixtures" / "audio_ports"
SPEECH = Path(__file__).resolve().parent.parent / "samples" / "speech.wav"
MODELS = ("snac_small", "snac_small_attn")


@pytest.fixture(scope="module", params=MODELS)
def case(request):
    from safetensors.numpy import load_file

    path = FIXTURES / request.param
    return path, tokkit.load(path, device="cpu"), load_file(str(FIXTURES / f"{request.param}_outputs.safetensors"))


def levels_of(port, codes: np.ndarray) -> list[np.ndarray]:
    return [level[0].numpy() for level in port.model._split(torch.from_numpy(codes)[None])]


def compare_levels(port, codes: np.ndarray, golden, n_q: int | None = None) -> tuple[int, int]:
    """Each level's codes against the reference's, up to the first near-tie of the coarse frame (past it the
    residuals differ legitimately). Returns (compared, skipped)."""
    ours = levels_of(port, codes)
    strides = port.config.vq_strides
    compared = skipped = 0
    tied_from = np.full(codes.shape[1] * strides[0], np.inf)  # latent frame -> first tied level
    for level in range(n_q or port.config.n_q):
        theirs, gaps = golden[f"codes{level}"], golden[f"gaps{level}"]
        for index in range(theirs.size):
            span = slice(index * strides[level], (index + 1) * strides[level])
            if np.isfinite(tied_from[span]).any():
                skipped += 1
                continue
            if gaps[index] <= NEAR_TIE:
                tied_from[span] = level
                skipped += 1
                continue
            assert ours[level][index] == theirs[index], (level, index)
            compared += 1
    return compared, skipped


def test_latents_match_the_reference(case):
    _, port, golden = case
    with torch.inference_mode():
        latents = port.model.latents(torch.from_numpy(golden["audio"])[None])[0].numpy()
    np.testing.assert_allclose(latents, golden["latents"], rtol=1e-5, atol=1e-5 * np.abs(golden["latents"]).max())


def test_codes_match_the_reference_except_near_ties(case):
    path, port, golden = case
    tokens = port.encode(golden["audio"])
    rows = port.config.rows(port.config.n_q)
    assert tokens.codes.shape == (rows, golden["codes0"].size)
    compared, skipped = compare_levels(port, tokens.codes, golden)
    print(f"{path.name}: {compared} codes compared and equal, {skipped} at or after a near-tie not compared")
    assert compared >= 0.9 * tokens.codes.size
    assert all(len(np.unique(golden[f"codes{i}"])) >= 10 for i in range(port.config.n_q))


def test_columns_read_depth_first_per_coarse_frame(case):
    """Column t holds c0[t], then each finer level's codes of that frame, depth first (for strides 4-2-1 the
    7-per-frame order of SNAC speech LMs); splitting the columns gives the levels back."""
    _, port, golden = case
    levels = [torch.from_numpy(golden[f"codes{i}"])[None] for i in range(port.config.n_q)]
    codes = port.model._interleave(levels)[0]
    c = [level[0].tolist() for level in levels]
    t = 3
    if port.config.vq_strides == (4, 2, 1):
        expected = [c[0][t], c[1][2 * t], c[2][4 * t], c[2][4 * t + 1], c[1][2 * t + 1], c[2][4 * t + 2], c[2][4 * t + 3]]
    else:  # 8-4-2-1: 15 rows
        expected = [c[0][t], c[1][2 * t], c[2][4 * t], c[3][8 * t], c[3][8 * t + 1], c[2][4 * t + 1], c[3][8 * t + 2],
                    c[3][8 * t + 3], c[1][2 * t + 1], c[2][4 * t + 2], c[3][8 * t + 4], c[3][8 * t + 5],
                    c[2][4 * t + 3], c[3][8 * t + 6], c[3][8 * t + 7]]
    assert codes[:, t].tolist() == expected
    for ours, theirs in zip(port.model._split(codes[None]), levels):
        assert torch.equal(ours, theirs)


def test_level_prefix_and_bandwidth(case):
    _, port, golden = case
    for n_q in range(1, port.config.n_q):
        codes = port.encode(golden["audio"], codebooks=n_q).codes
        assert codes.shape[0] == port.config.rows(n_q)
        compare_levels(port, codes, golden, n_q)
        by_bandwidth = port.encode(golden["audio"], bandwidth=port.config.kbps(n_q)).codes
        np.testing.assert_array_equal(by_bandwidth, codes)
        assert port.decode(codes).samples.size == codes.shape[1] * port.config.hop
    with pytest.raises(InputError, match="codebooks"):
        port.encode(golden["audio"], codebooks=port.config.n_q + 1)
    with pytest.raises(InputError, match="bandwidth"):
        port.encode(golden["audio"], bandwidth=port.config.kbps(port.config.n_q) * 1.5)
    with pytest.raises(InputError, match="rows"):
        port.decode(np.zeros((2, 4), np.int64))


def test_decoded_audio_matches_the_reference_on_the_same_codes(case):
    """The reference decodes with noise from torch.manual_seed(7); the port's decoder takes the same generator."""
    _, port, golden = case
    model = port.model
    codes = model._interleave([torch.from_numpy(golden[f"codes{i}"])[None] for i in range(model.config.n_q)])
    with torch.inference_mode():
        decoded = model.decode(codes, torch.Generator().manual_seed(7))[0].numpy()
    assert_decoded_matches(decoded, golden["decoded"], exact_decode(model, codes[0].numpy(), seed=7))
    again = port.decode_codes(codes[0].numpy())
    np.testing.assert_array_equal(again, port.decode_codes(codes[0].numpy()))  # the tokenizer's noise is seeded


def test_windows_give_the_whole_file_codes(case):
    path, port, golden = case
    windowed = tokkit.load(path, device="cpu")
    windowed.window_samples = port.config.hop * port.model.align_frames
    assert golden["audio"].size > 4 * windowed.window_samples
    compare_levels(port, windowed.encode(golden["audio"]).codes, golden)


def test_full_24khz_architecture_loads_from_the_release_layout():
    """The released snac_24khz config.json and tensor names/shapes (recorded from the reference) build the port."""
    from tokkit.codecs.audio.published.snac import from_reference

    recorded = json.loads((FIXTURES / "snac_24khz_shapes.json").read_text())
    state = {name: torch.zeros(shape) for name, shape in recorded["shapes"].items()}
    model = from_reference(state, "pytorch_model.bin", hf_config=recorded["config"])
    c = model.config
    assert c.sample_rate == 24000 and c.n_q == 3 and c.hop == 2048 and c.rows(3) == 7
    assert c.kbps(3) == pytest.approx(0.984375) and c.frame_rate == pytest.approx(11.71875)
    bad = dict(recorded["config"], decoder_dim=512)
    with pytest.raises(InputError, match="pytorch_model.bin: .*shape"):
        from_reference(state, "pytorch_model.bin", hf_config=bad)


# -- files, the CLI and bad input -----------------------------------------------------------------------
SNAPSHOT = FIXTURES / "snac_small"


def test_convert_encode_decode_info_and_shards_from_the_cli(run_cli, tmp_path):
    folder = tmp_path / "snac"
    code, out, err = run_cli("convert", SNAPSHOT, "-o", folder)
    assert code == 0, err
    assert json.loads((folder / "config.json").read_text())["kind"] == "audio.snac"
    original = tokkit.load(SNAPSHOT, device="cpu")
    assert tokkit.load(folder, device="cpu").identity["hash"] == original.identity["hash"]
    tok = tmp_path / "speech.tok"
    code, out, err = run_cli("encode", SPEECH, "-t", SNAPSHOT, "--codebooks", "2", "-o", tok)
    assert code == 0, err
    items = tokkit.load_tokens(tok)
    assert items.codes.shape[0] == 3 and items.meta["layout"] == "snac_depth_first"
    code, out, err = run_cli("info", folder, "--json")
    facts = json.loads(out)
    assert code == 0 and facts["codec"] == "snac_24khz" and facts["rows"] == 7
    wav = tmp_path / "back.wav"
    code, out, err = run_cli("decode", tok, "-t", folder, "-o", wav)
    assert code == 0, err
    import soundfile as sf

    assert sf.info(str(wav)).frames == sf.info(str(SPEECH)).frames
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(SPEECH, inputs / "a.wav")
    code, out, err = run_cli("encode", inputs, "-t", folder, "--out-dir", tmp_path / "shards")
    assert code == 0, err
    manifest = json.loads((tmp_path / "shards" / "manifest.json").read_text())
    assert manifest["tokenizer"]["hash"] == original.identity["hash"]


def _bad(tmp_path: Path, case: str) -> Path:
    folder = tmp_path / case
    shutil.copytree(SNAPSHOT, folder)
    config = json.loads((folder / "config.json").read_text())
    if case == "mismatched":
        config["codebook_dim"] = 4
    elif case == "no_strides":
        del config["vq_strides"]
    elif case == "bad_strides":
        config["vq_strides"] = [4, 3, 1]
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize("case, message", [("mismatched", "has shape"), ("no_strides", "config.json"),
                                           ("bad_strides", "must each divide")])
def test_bad_snac_folders_fail_in_one_line_and_write_nothing(run_cli, tmp_path, case, message):
    path = _bad(tmp_path, case)
    with pytest.raises(TokkitError):
        tokkit.load(path, device="cpu")
    code, out, err = run_cli("encode", SPEECH, "-t", path, "-o", tmp_path / "out.tok")
    assert code != 0 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.tok").exists()


def test_windows_in_threads_give_the_whole_file_codes_bit_for_bit(case, monkeypatch):
    """As for DAC: windows on the conv grid, one after another or two at once, give the whole-file codes exactly."""
    path, _, golden = case
    assert_windowed_encode_is_exact(path, golden, monkeypatch)
