"""The audio codec's invariants on a tiny random-init model: token count, batch = single, streaming = whole,
original rate restored, save/load round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

import tokkit
from tokkit.codecs.audio.chunking import windows
from tokkit.codecs.audio.io import Audio

from audio_helpers import speechlike, tiny_tokenizer


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.mark.parametrize("n", [2, 79, 80, 81, 800, 8000 + 17])
def test_token_count_is_ceil_samples_over_hop(tok, n: int) -> None:
    audio = speechlike(1.0, 8000)[:n] if n <= 8000 else speechlike(2.0, 8000)[:n]
    tokens = tok.encode(audio)
    assert tokens.codes.shape == (math.ceil(n / 80),)
    assert tokens.codes.min() >= 0 and tokens.codes.max() < tok.codebook_size == 48
    decoded = tok.decode(tokens)
    assert decoded.sample_rate == 8000 and decoded.samples.shape == (n,)
    assert tokens.meta["n_samples"] == n and tokens.meta["frame_rate"] == 100


def test_meta_records_rate_duration_and_identity(tok) -> None:
    tokens = tok.encode(Audio(speechlike(0.5, 16000), 16000))
    meta = tokens.meta
    assert meta["modality"] == "audio" and meta["tokenizer"]["kind"] == "audio.codec"
    assert meta["original_sample_rate"] == 16000 and meta["original_n_samples"] == 8000
    assert meta["sample_rate"] == 8000 and meta["duration"] == pytest.approx(0.5)
    assert len(tokens) == 50


def test_decode_restores_original_rate_and_length(tok) -> None:
    for rate, n in [(16000, 12345), (44100, 30001), (8000, 999)]:
        decoded = tok.decode(tok.encode(Audio(speechlike(n / rate, rate), rate)))
        assert decoded.sample_rate == rate and decoded.samples.size == n
        assert np.isfinite(decoded.samples).all() and np.abs(decoded.samples).max() <= 1.0


def test_batch_equals_single(tok, monkeypatch) -> None:
    """encode_batch / decode_batch pad and mask clips of different lengths into one forward pass; each result
    equals the clip alone (codes exactly, audio within float rounding: the stem convolution's sums depend on
    the padded length)."""
    items = [speechlike(s, 8000, seed=i) for i, s in enumerate([0.9, 1.0, 0.85])]  # lengths within MIN_FILL
    singles = [tok.encode(x) for x in items]
    alone = [tok.decode(t) for t in singles]
    calls = []
    for name in ("encode", "decode"):
        original = getattr(tok.model, name)
        monkeypatch.setattr(tok.model, name, lambda x, lengths=None, _f=original, _n=name: calls.append(
            (_n, tuple(x.shape[:1]), lengths is not None)) or _f(x, lengths))
    batch = tok.encode_batch(items)
    assert all(np.array_equal(a.codes, b.codes) and a.meta == b.meta for a, b in zip(batch, singles))
    together = tok.decode_batch(batch)
    assert calls == [("encode", (3,), True), ("decode", (3,), True)]  # one padded pass each, not a loop
    for a, b in zip(together, alone):
        assert a.sample_rate == b.sample_rate and a.samples.shape == b.samples.shape
        assert np.allclose(a.samples, b.samples, rtol=0, atol=1e-5)
    calls.clear()
    mixed = [speechlike(s, 8000, seed=i) for i, s in enumerate([0.3, 1.0, 0.01, 0.95])]
    batch = tok.encode_batch(mixed)  # far shorter clips go in their own pass: padding costs at most 25%
    assert calls == [("encode", (2,), True), ("encode", (1,), False), ("encode", (1,), False)]
    for clip, tokens in zip(mixed, batch):
        assert np.array_equal(tokens.codes, tok.encode(clip).codes)


def test_padding_cannot_leak_into_a_batch() -> None:
    """The masked ConvNeXt stack gives a padded item exactly what it gives alone (the check above relies on it)."""
    import torch

    from tokkit.nn.convnext import ConvNeXtStack

    torch.manual_seed(0)
    stack = ConvNeXtStack(6, 8, 2, 16, kernel=5).eval()
    short, long = torch.randn(1, 6, 9), torch.randn(1, 6, 14)
    padded = torch.cat([torch.cat([short, torch.full((1, 6, 5), 3.0)], 2), long])
    mask = torch.arange(14)[None] < torch.tensor([[9], [14]])
    with torch.inference_mode():
        out = stack(padded, mask)
        assert torch.allclose(out[0, :9], stack(short)[0], atol=1e-5) and torch.allclose(out[1], stack(long)[0], atol=1e-6)
        unmasked = stack(padded)[0, :9]
        assert not torch.allclose(unmasked, stack(short)[0], atol=1e-3)  # without the mask the padding leaks


def test_windows_tile_the_sequence_exactly() -> None:
    for length, chunk, context in [(1, 5, 3), (17, 5, 3), (20, 5, 0), (100, 7, 11)]:
        covered = []
        for w in windows(length, chunk, context):
            assert 0 <= w.start <= w.start + w.keep_start < w.start + w.keep_stop <= w.stop <= length
            assert w.keep_start == min(context, w.start + w.keep_start)
            covered.extend(range(w.start + w.keep_start, w.start + w.keep_stop))
        assert covered == list(range(length))


def test_streamed_equals_whole() -> None:
    whole, streamed = tiny_tokenizer(chunk_seconds=100.0), tiny_tokenizer(chunk_seconds=0.3)
    assert whole.identity == streamed.identity
    audio = speechlike(4.0, 8000, seed=3)
    a, b = whole.encode(audio), streamed.encode(audio)
    assert np.mean(a.codes == b.codes) >= 0.99
    x, y = whole.decode(a).samples, streamed.decode(a).samples
    assert np.max(np.abs(x - y)) < 1e-4


def test_save_load_round_trip(tok, tmp_path) -> None:
    first = tokkit.load(tok.save(tmp_path / "a"))
    assert first.identity["hash"] == tok.identity["hash"]
    second = tokkit.load(first.save(tmp_path / "b"))
    assert second.identity["hash"] == first.identity["hash"]
    audio = speechlike(1.0, 8000)
    codes = first.encode(audio)
    assert np.array_equal(codes.codes, second.encode(audio).codes)
    assert np.array_equal(first.decode(codes).samples, second.decode(codes).samples)
    assert first.describe()["tokens_per_s"] == 100


def test_encode_file_downmixes_stereo(tok, tmp_path) -> None:
    mono = speechlike(0.5, 22050)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([mono, mono], axis=1), 22050)
    tokens = tok.encode_file(path)
    assert tokens.meta["original_sample_rate"] == 22050 and tokens.meta["original_n_samples"] == mono.size
    assert np.mean(tokens.codes == tok.encode(Audio(mono, 22050)).codes) >= 0.95


def test_loader_takes_device_and_chunk_options(tok, tmp_path) -> None:
    from tokkit.codecs.audio.tokenizer import load_saved
    from tokkit.core.registry import read_config
    from tokkit.errors import InputError

    folder = tok.save(tmp_path / "codec")
    loaded = load_saved(folder, read_config(folder), device="cpu", chunk_seconds=0.5)
    assert loaded.device == "cpu" and loaded.chunk_tokens == 50
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA"):
            load_saved(folder, read_config(folder), device="cuda")


def test_rvq_codec_gives_depth_codes_per_frame_and_decodes_prefixes(tmp_path) -> None:
    from audio_helpers import TINY_RVQ

    rvq = tiny_tokenizer(config=TINY_RVQ)
    audio = speechlike(0.55, 8000)
    tokens = rvq.encode(audio)
    assert tokens.codes.shape == (3, 55) and len(tokens) == 55 and rvq.codebook_size == 16
    assert rvq.describe()["kbps"] == pytest.approx(100 * 3 * 4 / 1000)
    full = rvq.decode(tokens).samples
    prefix = rvq.decode(type(tokens)(tokens.codes[:1], tokens.meta)).samples
    assert full.shape == prefix.shape == (audio.size,) and not np.array_equal(full, prefix)
    streamed = tiny_tokenizer(chunk_seconds=0.2, config=TINY_RVQ)
    assert np.mean(streamed.encode(audio).codes == tokens.codes) >= 0.99
    reloaded = tokkit.load(rvq.save(tmp_path / "rvq"))
    assert reloaded.identity["hash"] == rvq.identity["hash"]
    assert np.mean(reloaded.encode(audio).codes == tokens.codes) >= 0.9  # weights stored as float16
    from tokkit.errors import InputError

    with pytest.raises(InputError, match="shape"):
        rvq.decode(type(tokens)(tokens.codes[0], tokens.meta))


def test_residual_fsq_codec_encodes_any_prefix_of_levels(tmp_path) -> None:
    from audio_helpers import TINY_RFSQ
    from tokkit.errors import InputError

    codec = tiny_tokenizer(config=TINY_RFSQ)
    audio = speechlike(0.4, 8000)
    full = codec.encode(audio)
    assert full.codes.shape == (3, 40) and full.meta["codebooks"] == 3
    assert full.meta["kbps"] == pytest.approx(3 * 100 * 6 / 1000) and codec.codebook_size == 48
    one = codec.encode(audio, codebooks=1)
    assert one.codes.shape == (1, 40) and one.meta["codebooks"] == 1 and one.meta["kbps"] == pytest.approx(0.6)
    np.testing.assert_array_equal(one.codes, full.codes[:1])
    two = codec.encode(audio, bandwidth=1.3)  # 0.6 kbps per codebook: two fit
    np.testing.assert_array_equal(two.codes, full.codes[:2])
    decoded = [codec.decode(tokens).samples for tokens in (one, two, full)]
    assert all(d.shape == (audio.size,) for d in decoded) and not np.array_equal(decoded[0], decoded[2])
    np.testing.assert_array_equal(codec.decode(type(full)(full.codes[:1], one.meta)).samples, decoded[0])
    reloaded = tokkit.load(codec.save(tmp_path / "rfsq"))
    assert reloaded.identity["hash"] == codec.identity["hash"] and reloaded.n_codebooks == 3
    with pytest.raises(InputError, match="from 1 to 3"):
        codec.encode(audio, codebooks=4)
    with pytest.raises(InputError, match="lowest rate"):
        codec.encode(audio, bandwidth=0.3)
    with pytest.raises(InputError, match="either"):
        codec.encode(audio, codebooks=1, bandwidth=1.0)
    # a prefix of a file's rows decodes as that many levels (the rows count, not the recorded "codebooks")
    np.testing.assert_array_equal(codec.decode(type(full)(full.codes[:2], full.meta)).samples,
                                  codec.decode(two).samples)


def test_warm_start_makes_level_one_of_a_residual_codec_decode_as_the_fsq_codec(tmp_path) -> None:
    import torch

    from audio_helpers import TINY_RFSQ
    from tokkit.codecs.audio.config import CodecConfig
    from tokkit.codecs.audio.model import CodecModel
    from tokkit.codecs.audio.tokenizer import AudioTokenizer
    from tokkit.codecs.audio.train import warm_start
    from tokkit.errors import TokenizerMismatchError

    old = tokkit.load(tiny_tokenizer(seed=5).save(tmp_path / "fsq"))
    model = CodecModel(CodecConfig(**TINY_RFSQ))
    fresh = warm_start(model, tmp_path / "fsq")
    assert fresh and all(name.startswith("quantizer.levels.") and not name.startswith("quantizer.levels.0.")
                         for name in fresh)
    new = AudioTokenizer(model, device="cpu")
    audio = speechlike(0.3, 8000)
    old_tokens = old.encode(audio)
    new_tokens = new.encode(audio)
    np.testing.assert_array_equal(new_tokens.codes[0], old_tokens.codes)
    np.testing.assert_allclose(new.decode(new_tokens).samples, old.decode(old_tokens).samples, atol=1e-6)
    with pytest.raises(TokenizerMismatchError, match="decode them with the tokenizer that made them"):
        new.decode(old_tokens)  # a first-generation token file is refused in one line, never misdecoded
    assert torch.all(model.quantizer.levels[1].project_out.weight == 0)


def test_crop_sampler_balances_folders(tmp_path) -> None:
    from tokkit.codecs.audio.data import CropSampler
    from tokkit.errors import InputError

    for index in range(40):  # a voice with many short files
        (tmp_path / "many").mkdir(exist_ok=True)
        sf.write(tmp_path / "many" / f"{index}.wav", np.full(800, 0.5, np.float32), 8000)
    (tmp_path / "one").mkdir()
    sf.write(tmp_path / "one" / "long.wav", np.full(16000, -0.5, np.float32), 8000)
    plain = CropSampler(tmp_path, 8000, 800, seed=0).batch(400)
    balanced = CropSampler(tmp_path, 8000, 800, seed=0, balance="folders").batch(400)
    share_plain = float((plain.sum(1) < 0).float().mean())
    share_balanced = float((balanced.sum(1) < 0).float().mean())
    assert share_plain < 0.1 and 0.3 < share_balanced < 0.55  # sqrt(16000) / (sqrt(16000) + sqrt(32000)) = 0.41
    with pytest.raises(InputError, match="balance"):
        CropSampler(tmp_path, 8000, 800, balance="speakers")
