"""Hostile token files and tokenizer files: each ends in one clear line and a non-zero exit, fast."""

from __future__ import annotations

import json
import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest
from audio_helpers import speechlike, tiny_tokenizer
from cli_helpers import one_error_line

import tokkit
from tokkit.core.container import decode_container, encode_container
from tokkit.errors import InputError, TokenFileError, TokenizerMismatchError
from tokkit.quant.bitpack import pack_bits


def raw_container(header: dict, payload: bytes = b"") -> bytes:
    """A token file with any header at all (what a hostile user can write by hand)."""
    head = json.dumps(header).encode()
    crc = zlib.crc32(payload, zlib.crc32(head))
    return struct.pack("<6sBBIQI", b"TOKKIT", 1, 0, len(head), len(payload), crc) + head + payload



def text_identity() -> dict:
    return dict(tokkit.load("text").identity)


def doubling_table_file(path, pairs: int = 64) -> None:
    """A few hundred bytes whose merge table doubles at every pair: token base+k stands for 2**(k+1) tokens."""
    text = tokkit.load("text")
    base, letter = text.vocab_size, next(i for i in range(text.vocab_size) if text.token_bytes(i) == b"a")
    table = {"base_vocab_size": base, "boundary": "pretoken",
             "pairs": [[letter, letter]] + [[base + k, base + k] for k in range(pairs - 1)]}
    size = base + pairs
    bits = (size - 1).bit_length()
    codes = np.array([base + pairs - 1] * 4)
    header = {"version": 1, "tokenizer": text_identity(), "modality": "text", "single": True,
              "items": [{"shape": [4], "bits": bits, "meta": {"codebook_size": size, "dynamic_merges": table}}]}
    path.write_bytes(raw_container(header, pack_bits(codes, bits)))


def test_doubling_merge_table_is_refused_in_seconds_without_expanding(tmp_path, run_cli):
    doubling_table_file(tmp_path / "bomb.tok")
    assert (tmp_path / "bomb.tok").stat().st_size < 2000  # 2**64 tokens, in about a kilobyte
    tracemalloc.start()
    start = time.perf_counter()
    code, out, err = run_cli("decode", tmp_path / "bomb.tok")
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert code != 0 and out == b""
    assert "above the limit" in one_error_line(err)
    assert elapsed < 10 and peak < 50 * 2**20, (elapsed, peak)


def test_a_small_legit_merge_table_still_decodes(tmp_path, run_cli):
    doubling_table_file(tmp_path / "ok.tok", pairs=5)  # 4 tokens of 32 'a's each
    code, out, err = run_cli("decode", tmp_path / "ok.tok")
    assert code == 0, err
    assert out == b"a" * 128


@pytest.mark.parametrize("table,match", [
    ({"base_vocab_size": 10, "pairs": [[3, 10]]}, r"pairs\[0\]"),  # refers to itself
    ({"base_vocab_size": 10, "pairs": [[3, -1]]}, r"pairs\[0\]"),
    ({"base_vocab_size": 0, "pairs": []}, "base_vocab_size"),
    ({"base_vocab_size": 10, "pairs": "x"}, "dynamic_merges"),
    ({"base_vocab_size": 10, "pairs": [[1, 2, 3]]}, r"pairs\[0\]"),
])
def test_malformed_merge_tables_are_refused(table, match):
    from tokkit.text.dynamic_merge import unmerge_tokens

    tokens = tokkit.Tokens(np.array([1]), {"codebook_size": 11, "dynamic_merges": table})
    with pytest.raises(InputError, match=match):
        unmerge_tokens(tokens)


def test_tokens_without_a_hash_need_trust_tokenizer(tmp_path, run_cli):
    text = tokkit.load("text")
    tokens = text.encode(b"hello world")
    tokens.meta["tokenizer"] = {"name": "text", "kind": "text.bpe"}  # no hash
    tokkit.save_tokens(tmp_path / "nohash.tok", tokens)
    code, _, err = run_cli("decode", tmp_path / "nohash.tok")
    assert code != 0 and "--trust-tokenizer" in one_error_line(err)
    code, out, err = run_cli("decode", tmp_path / "nohash.tok", "--trust-tokenizer")
    assert code == 0 and out == b"hello world", err
    # a header with the hash but an item that drops it is refused too
    header, items = decode_container((tmp_path / "nohash.tok").read_bytes())
    bad = raw_container({"version": 1, "tokenizer": text_identity(), "modality": "text", "single": True,
                         "items": [{"shape": [int(items[0].codes.size)], "bits": (text.vocab_size - 1).bit_length(),
                                    "meta": {"codebook_size": text.vocab_size, "tokenizer": {"name": "text"}}}]},
                        pack_bits(items[0].codes, (text.vocab_size - 1).bit_length()))
    (tmp_path / "item.tok").write_bytes(bad)
    code, _, err = run_cli("decode", tmp_path / "item.tok")
    assert code != 0 and "does not carry the hash" in one_error_line(err)


def test_a_tokenizer_path_named_inside_a_file_is_not_loaded_unconfirmed(tmp_path, run_cli):
    marker = tmp_path / "evil"  # a folder the file names: it must not even be read
    marker.mkdir()
    (marker / "config.json").write_text('{"kind": "text.bpe"}')
    header = {"version": 1, "tokenizer": {"name": str(marker), "kind": "text.bpe", "hash": "0" * 16},
              "modality": "text", "single": True, "items": [{"shape": [1], "bits": 1, "meta": {"codebook_size": 2}}]}
    (tmp_path / "a.tok").write_bytes(raw_container(header, b"\x01"))
    code, _, err = run_cli("decode", tmp_path / "a.tok")
    line = one_error_line(err)
    assert code != 0 and f"pass -t {marker}" in line and "no tokenizer.json" not in line


def test_codes_beyond_the_codebook_after_unpacking_are_refused():
    header = {"version": 1, "tokenizer": text_identity(), "modality": "text", "single": True,
              "items": [{"shape": [2], "bits": 4, "meta": {"codebook_size": 10}}]}
    with pytest.raises(TokenFileError, match="outside its codebook of 10"):
        decode_container(raw_container(header, pack_bits(np.array([3, 15]), 4)))
    header["items"][0]["bits"] = 8  # bits that disagree with the codebook
    with pytest.raises(TokenFileError, match="needs 4"):
        decode_container(raw_container(header, b"\x01\x02"))


@pytest.mark.parametrize("item", [
    {"shape": [2**62, 2**62], "bits": 63, "meta": {"codebook_size": 2**62}},
    {"shape": [0, 2**62], "bits": 1, "meta": {"codebook_size": 2}},
    {"shape": [1] * 40, "bits": 1, "meta": {"codebook_size": 2}},
    {"shape": [-1], "bits": 1, "meta": {"codebook_size": 2}},
    {"shape": [1], "bits": 0, "meta": {"codebook_size": 1}},
    {"shape": [1], "bits": 1, "meta": {"codebook_size": True}},
    {"shape": [1], "bits": 1, "meta": []},
    {"shape": [1], "bits": 1, "meta": {"codebook_size": 2, "modality": ["x"]}},
])
def test_shapes_and_sizes_are_checked_before_allocating(item):
    with pytest.raises(TokenFileError):
        decode_container(raw_container({"version": 1, "single": True, "items": [item]}, b"\x00"))


def test_deeply_nested_header_is_a_clean_error():
    head = b"[" * 100000 + b"]" * 100000
    data = struct.pack("<6sBBIQI", b"TOKKIT", 1, 0, len(head), 0, zlib.crc32(head)) + head
    with pytest.raises(TokenFileError, match="nested too deeply"):
        decode_container(data)


@pytest.fixture(scope="module")
def audio_tok():
    return tiny_tokenizer()


@pytest.mark.parametrize("field,value,match", [
    ("original_sample_rate", 0, "original_sample_rate=0"),
    ("original_sample_rate", 10**12, "original_sample_rate"),
    ("original_sample_rate", "16000", "original_sample_rate"),
    ("sample_rate", 0, "sample_rate=0"),
    ("n_samples", 10**15, "n_samples"),
    ("original_n_samples", 10**15, "original_n_samples"),
    ("duration", float("nan"), "duration"),
])
def test_audio_metadata_out_of_range_is_refused(audio_tok, field, value, match):
    tokens = audio_tok.encode(speechlike(0.2, 8000))
    tokens.meta[field] = value
    with pytest.raises(TokenFileError, match=match):
        audio_tok.decode(tokens)


def test_audio_sample_rate_zero_via_the_cli(audio_tok, tmp_path, run_cli):
    folder = audio_tok.save(tmp_path / "codec")
    tokens = audio_tok.encode(speechlike(0.2, 8000))
    tokens.meta.update(original_sample_rate=0, tokenizer=dict(tokkit.load(folder).identity))
    tokkit.save_tokens(tmp_path / "a.tok", tokens)
    code, _, err = run_cli("decode", tmp_path / "a.tok", "-t", folder, "-o", tmp_path / "a.wav")
    assert code != 0 and "original_sample_rate=0" in one_error_line(err)
    assert not (tmp_path / "a.wav").exists()


def test_audio_file_with_absurd_rate_is_refused(tmp_path, audio_tok):
    from tokkit.codecs.audio.io import resample

    wav = bytearray()
    samples = (speechlike(0.1, 8000) * 20000).astype("<i2").tobytes()
    for rate in (1, 4_000_000):
        wav = (b"RIFF" + struct.pack("<I", 36 + len(samples)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
               + b"data" + struct.pack("<I", len(samples)) + samples)
        (tmp_path / "odd.wav").write_bytes(wav)
        with pytest.raises(InputError, match="sample rate"):
            audio_tok.encode_file(tmp_path / "odd.wav")
    resample(speechlike(0.2, 8000), 44_100, 16_000)  # imports scipy
    start = time.perf_counter()  # an unusual but allowed rate resamples with a bounded filter
    out = resample(speechlike(0.2, 8000), 767_999, 16_000)
    assert time.perf_counter() - start < 5 and abs(out.size - 1600 * 16_000 / 767_999) < 2


def test_a_100000_by_8_image_encodes_and_decodes_in_bounded_memory():
    from PIL import Image

    from tokkit.codecs.image.io import from_model_output, to_model_input

    strip = Image.fromarray(np.random.default_rng(0).integers(0, 255, (8, 100_000, 3), dtype=np.uint8))
    tracemalloc.start()
    array, placement = to_model_input(strip, 64)
    picture = from_model_output(array, placement)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert array.shape == (64, 64, 3) and picture.size == (100_000, 8)
    assert (placement.padded_width, placement.padded_height) == (100_000, 66_667)
    assert peak < 20 * 2**20, peak  # the 100000x66667 canvas (20 GB) is never made


def test_image_metadata_out_of_range_is_refused():
    tok = tokkit.load("image")
    tokens = tok.encode(np.zeros((16, 16, 3), np.uint8), tokens=2)
    for key, value, match in (("image_size", [10**6, 10**6], "image_size"), ("padded_size", [10**5, 10**5], "padded_size"),
                              ("image_size", [16], "image_size")):
        bad = tokkit.Tokens(tokens.codes, {**tokens.meta, key: value})
        with pytest.raises(TokenFileError, match=match):
            tok.decode(bad)


@pytest.mark.parametrize("vocab_id", [2**40, -1, True, 1.5])
def test_tokenizer_json_with_a_huge_id_is_refused_before_allocating(tmp_path, vocab_id):
    config = {"model": {"type": "BPE", "vocab": {"a": 0, "b": vocab_id}, "merges": []}}
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(config))
    tracemalloc.start()
    with pytest.raises(InputError):
        tokkit.load(path)
    assert tracemalloc.get_traced_memory()[1] < 20 * 2**20
    tracemalloc.stop()


def test_tiktoken_file_with_a_huge_or_sparse_rank_is_refused(tmp_path):
    import base64

    lines = [base64.b64encode(bytes([i])) + b" %d" % i for i in range(256)]
    for rank in (2**40, 10**6):
        path = tmp_path / "big.tiktoken"
        path.write_bytes(b"\n".join(lines + [base64.b64encode(b"ab") + b" %d" % rank]) + b"\n")
        with pytest.raises(InputError, match="id|sparse"):
            tokkit.load(path, pattern=r"\S+|\s+")


def test_mismatched_codebook_is_refused(audio_tok):
    tokens = audio_tok.encode(speechlike(0.2, 8000))
    tokens.meta["codebook_size"] = audio_tok.codebook_size + 1
    with pytest.raises(TokenizerMismatchError, match="codebook"):
        audio_tok.decode(tokens)


def test_container_round_trip_still_exact():
    tokens = tokkit.Tokens(np.arange(10), {"modality": "text", "codebook_size": 10, "tokenizer": {"name": "t", "hash": "h"}})
    assert decode_container(encode_container(tokens))[1] == [tokens]


def test_the_api_also_refuses_file_tokens_without_a_hash(tmp_path):
    text = tokkit.load("text")
    tokkit.save_tokens(tmp_path / "a.tok", tokkit.Tokens(text.encode(b"hi").codes, {"modality": "text",
                                                                                   "codebook_size": text.vocab_size}))
    loaded = tokkit.load_tokens(tmp_path / "a.tok")
    with pytest.raises(TokenizerMismatchError, match="no tokenizer hash"):
        text.decode(loaded)
    loaded.meta["tokenizer"] = text.identity  # the caller vouches for it
    assert text.decode(loaded) == b"hi"
    assert text.decode(text.encode(b"hi").codes) == b"hi"  # bare ids stay accepted
