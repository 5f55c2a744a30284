"""WavTokenizer port against golden outputs of the authors' code (scripts/make_audio_port_fixtures.py).

The fixture is the authors' WavTokenizer at a reduced width with random weights (codebook re-initialised
from real speech latents), saved as a Lightning-style ``.ckpt`` beside the authors' yaml layout, and the
reference's latents, codes, top-2 distance gaps, features and decoded audio. No reference code is needed here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import tokkit
from tokkit.errors import InputError, UnsupportedFormatError

FIXTURES = Path(__file__).parent / "fixtures" / "audio_ports"
FOLDER = FIXTURES / "wavtokenizer_small"
CKPT = FOLDER / "wavtokenizer_small.ckpt"
SPEECH = Path(__file__).resolve().parent.parent / "samples" / "speech.wav"
NEAR_TIE = 1e-3


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: tiny models, one thread


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(FIXTURES / "wavtokenizer_small_outputs.safetensors"))


@pytest.fixture(scope="module")
def port():
    return tokkit.load(CKPT, device="cpu")


def test_latents_match_the_reference(port, golden):
    with torch.inference_mode():
        latents = port.model.latents(torch.from_numpy(golden["audio"])[None])[0].numpy()
    np.testing.assert_allclose(latents, golden["latents"], rtol=1e-5, atol=1e-5 * np.abs(golden["latents"]).max())


def test_codes_match_the_reference_except_near_ties(port, golden):
    codes = port.encode(golden["audio"]).codes
    assert codes.shape == golden["codes"].shape == (1, 113)
    decided = golden["gaps"][0] > NEAR_TIE
    assert decided.sum() >= 100  # the fixture has well-separated codes: the comparison means something
    np.testing.assert_array_equal(codes[0][decided], golden["codes"][0][decided])
    assert len(np.unique(golden["codes"])) > 20


def test_decoded_audio_matches_the_reference_on_the_same_codes(port, golden):
    with torch.inference_mode():
        features = port.model.dequantize(torch.from_numpy(golden["codes"])[None])[0].numpy()
    np.testing.assert_array_equal(features, golden["features"])
    audio = port.decode_codes(golden["codes"])
    assert audio.shape == golden["decoded"].shape
    scale = np.abs(golden["decoded"]).max()
    assert scale > 0.05 and np.abs(audio - golden["decoded"]).max() <= 1e-5 * scale


def test_ckpt_folder_and_converted_folder_are_one_checkpoint(port, tmp_path):
    with_yaml = tokkit.load(FOLDER, device="cpu")
    assert with_yaml.identity["hash"] == port.identity["hash"]
    port.save(tmp_path / "converted")
    converted = tokkit.load(tmp_path / "converted", device="cpu")
    assert converted.identity["hash"] == port.identity["hash"] and converted.kind == "audio.wavtokenizer"
    item = port.example_inputs(1)[0]
    np.testing.assert_array_equal(converted.encode(item).codes, port.encode(item).codes)


@pytest.mark.parametrize("rate, hop, n_fft", [("40", 600, 2400), ("75", 320, 1280)])
def test_both_released_configurations_are_recognised_by_their_tensors(rate, hop, n_fft):
    """The full released architectures (tensor names and shapes recorded from the authors' code with their
    two yaml configs, wrapped as a Lightning checkpoint's state_dict) give the right port config."""
    from tokkit.codecs.audio.published import wavtokenizer as wt

    shapes = json.loads((FIXTURES / "wavtokenizer_shapes.json").read_text())[rate]
    state = {"state_dict." + name: torch.empty(shape, device="meta") for name, shape in shapes.items()}
    state["state_dict.multiperioddisc.discriminators.0.convs.0.bias"] = torch.empty(32, device="meta")
    assert wt.looks_like(set(state))
    canonical = wt.canonical_keys(state, "state_dict.")
    config = wt.infer_config(canonical)
    assert (config.hop, config.head_n_fft, config.frame_rate) == (hop, n_fft, int(rate))
    assert (config.codebook_size, config.dim, config.num_layers, config.seanet.dimension) == (4096, 768, 12, 512)
    with torch.device("meta"):
        model = wt.WavTokenizerModel(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert expected == {k: tuple(v.shape) for k, v in canonical.items()}


@pytest.mark.parametrize("window, context", [(100, 20), (37, 3), (64, 1), (5, 40)])
def test_long_items_are_coded_in_windows_as_one_pass(port, golden, window, context):
    audio = np.tile(golden["audio"], 3)
    whole = port.encode_samples(audio)
    with torch.inference_mode():
        x = torch.from_numpy(audio)[None, None]
        whole_latents = port.model.latents(x[:, 0])
        latents = port.model.encoder.windowed(x, window=window * port.config.hop, context=context * port.config.hop)
    port.window_frames, port.context_frames = window, context
    try:
        windowed = port.encode_samples(audio)
        decoded = port.decode_codes(whole)
    finally:
        port.window_frames, port.context_frames = WindowDefaults.frames(port)
    assert windowed.shape == whole.shape == (1, -(-audio.size // port.config.hop)) and whole.shape[1] > 3 * window
    assert decoded.shape == (whole.shape[1] * port.config.hop,)
    # the LSTM carries its state over the window edges: every code agrees with one whole pass. (This tiny model's
    # 2-16 channel convolutions round by their call's length in oneDNN, so its latents agree to float rounding and
    # a code may flip where its two nearest codes are that close; at WavTokenizer's widths they agree bit for bit,
    # see the next test.)
    np.testing.assert_allclose(latents, whole_latents, rtol=0, atol=1e-5 * whole_latents.abs().max().item())
    flat = whole_latents[0].t().double()
    distances = torch.cdist(flat, port.model.quantizer.codebook.double()).square()
    nearest_two = distances.topk(2, largest=False).values
    near_tie = ((nearest_two[:, 1] - nearest_two[:, 0]) <= 1e-4 * nearest_two[:, 0]).numpy()
    assert near_tie.sum() <= 3  # the comparison below still covers nearly every frame
    np.testing.assert_array_equal(windowed[0, ~near_tie], whole[0, ~near_tie])


@pytest.mark.parametrize("ratios, seconds, window, context", [((6, 5, 5, 4), 4.0, 40, 8), ((6, 5, 5, 4), 4.0, 48, 12),
                                                             ((6, 5, 5, 4), 3.3, 30, 70), ((6, 5, 5, 4), 6.0, 17, 1),
                                                             ((8, 5, 4, 2), 2.5, 50, 3)])
def test_windowed_encoder_at_the_published_widths_is_one_pass_bit_for_bit(ratios, seconds, window, context):
    from tokkit.codecs.audio.published.wavtokenizer import WavTokenizerConfig
    from tokkit.nn.seanet import SEANetEncoder

    torch.manual_seed(0)
    seanet = WavTokenizerConfig().seanet  # 32-512 channels; hop 600 (40 tokens/s) or 320 (75 tokens/s)
    seanet.ratios = ratios
    encoder = SEANetEncoder(seanet).eval()
    audio = torch.from_numpy((0.1 * np.random.default_rng(0).standard_normal(int(seconds * 24000))).astype(np.float32))
    with torch.inference_mode():
        whole = encoder(audio[None, None])
        windowed = encoder.windowed(audio[None, None], window=window * encoder.hop, context=context * encoder.hop)
    assert windowed.shape == whole.shape == (1, 512, -(-audio.numel() // encoder.hop))
    assert whole.shape[-1] > window + 64  # more than one window (the context is at least MIN_CALL_FRAMES)
    # window edges inside the LSTM's sequence, the last window partly filled
    assert torch.equal(windowed, whole)


class WindowDefaults:
    @staticmethod
    def frames(port) -> tuple[int, int]:
        from tokkit.codecs.audio.published.tokenizer import CONTEXT_SECONDS, WINDOW_SECONDS

        rate, hop = port.config.sample_rate, port.config.hop
        return round(WINDOW_SECONDS * rate / hop), round(CONTEXT_SECONDS * rate / hop)


def test_describe_reports_codec_rate_and_kbps(port):
    facts = port.describe()
    assert facts["codec"] == "wavtokenizer_75tps" and facts["tokens_per_s"] == 75 and facts["codebooks"] == 1
    assert facts["kbps"] == pytest.approx(75 * 8 / 1000)


# -- files and the CLI ---------------------------------------------------------------------------------
def test_convert_encode_decode_info_from_the_cli(run_cli, tmp_path):
    folder = tmp_path / "wavtok"
    code, out, err = run_cli("convert", CKPT, "-o", folder)
    assert code == 0, err
    tok = tmp_path / "speech.tok"
    code, out, err = run_cli("encode", SPEECH, "-t", FOLDER, "-o", tok)
    assert code == 0, err
    tokens = tokkit.load_tokens(tok)
    assert tokens.codes.shape[0] == 1 and tokens.meta["tokenizer"]["hash"] == tokkit.load(CKPT).identity["hash"]
    code, out, err = run_cli("info", folder, "--json")
    assert code == 0 and json.loads(out)["tokens_per_s"] == 75
    wav = tmp_path / "back.wav"
    code, out, err = run_cli("decode", tok, "-t", folder, "-o", wav)  # the converted folder decodes .ckpt tokens
    assert code == 0, err
    import soundfile as sf

    assert sf.info(str(wav)).frames == sf.info(str(SPEECH)).frames
    code, out, err = run_cli("encode", SPEECH, "-t", CKPT, "--codebooks", "1", "-o", tmp_path / "x.tok")
    assert code != 0 and "--codebooks" in err and not (tmp_path / "x.tok").exists()


def test_tokens_from_another_checkpoint_are_refused(run_cli, tmp_path):
    checkpoint = torch.load(CKPT, weights_only=True)
    checkpoint["state_dict"]["head.out.bias"] = checkpoint["state_dict"]["head.out.bias"] + 1
    other = tmp_path / "other.ckpt"
    torch.save(checkpoint, other)
    tok = tmp_path / "a.tok"
    assert run_cli("encode", SPEECH, "-t", CKPT, "-o", tok)[0] == 0
    code, out, err = run_cli("decode", tok, "-t", other, "-o", tmp_path / "x.wav")
    assert code != 0 and "hash" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.wav").exists()


def _bad(tmp_path: Path, case: str) -> Path:
    import argparse

    if case == "yaml says other shapes":
        folder = tmp_path / "mismatch"
        shutil.copytree(FOLDER, folder)
        config = yaml.safe_load((folder / "wavtokenizer_small.yaml").read_text())
        config["model"]["init_args"]["head"]["init_args"]["n_fft"] = 2400
        (folder / "wavtokenizer_small.yaml").write_text(yaml.safe_dump(config))
        return folder
    if case == "refused pickle":
        path = tmp_path / "refused.ckpt"
        torch.save({"state_dict": {"w": torch.zeros(2)}, "args": argparse.Namespace(x=1)}, path)
        return path
    if case == "truncated":
        path = tmp_path / "truncated.ckpt"
        path.write_bytes(CKPT.read_bytes()[:4000])
        return path
    if case == "shapes do not fit":
        checkpoint = torch.load(CKPT, weights_only=True)
        checkpoint["state_dict"]["backbone.convnext.1.pwconv1.weight"] = torch.zeros(96, 32)
        path = tmp_path / "shapes.ckpt"
        torch.save(checkpoint, path)
        return path
    folder = tmp_path / "two"  # two checkpoints in one folder: ambiguous
    shutil.copytree(FOLDER, folder)
    shutil.copy(CKPT, folder / "second.ckpt")
    return folder


@pytest.mark.parametrize("case, message", [("yaml says other shapes", "head n_fft 2400"),
                                           ("refused pickle", "weights_only"),
                                           ("truncated", "cannot read the checkpoint"),
                                           ("shapes do not fit", "has shape (96, 32)"),
                                           ("two checkpoints", "2 .ckpt")])
def test_bad_checkpoints_fail_in_one_line_and_write_nothing(run_cli, tmp_path, case, message):
    path = _bad(tmp_path, case)
    with pytest.raises((InputError, UnsupportedFormatError)):
        tokkit.load(path, device="cpu")
    code, out, err = run_cli("encode", SPEECH, "-t", path, "-o", tmp_path / "out.tok")
    assert code != 0 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out.tok").exists()


def test_shards_with_a_wavtokenizer_checkpoint(run_cli, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(SPEECH, inputs / "a.wav")
    code, out, err = run_cli("encode", inputs, "-t", CKPT, "--out-dir", tmp_path / "shards")
    assert code == 0, err
    manifest = json.loads((tmp_path / "shards" / "manifest.json").read_text())
    assert manifest["tokenizer"]["hash"] == tokkit.load(CKPT, device="cpu").identity["hash"]
