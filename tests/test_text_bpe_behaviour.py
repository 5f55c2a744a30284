"""BPETokenizer behaviour: exact round trips, pre-tokens, token bytes, special tokens, pickling, files, bad input."""

from __future__ import annotations

import json
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokkit
from tokkit.errors import InputError, OutputExistsError, TokenizerMismatchError, UnsupportedFormatError
from tokkit.text.bpe import BPETokenizer
from text_support import MIXED_SAMPLES, cl100k_path, stdlib_text, train_tokenizer_json

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def cl100k():
    return tokkit.load(cl100k_path())


@pytest.fixture(scope="module")
def byte_level():
    return BPETokenizer.from_tokenizer_json(train_tokenizer_json("llama3"))


@pytest.fixture(scope="module")
def metaspace():
    return BPETokenizer.from_tokenizer_json(train_tokenizer_json("metaspace"))


@FAST
@given(data=st.binary(max_size=200))
def test_any_bytes_round_trip_on_byte_level(cl100k, byte_level, data):
    for tok in (cl100k, byte_level):
        tokens = tok.encode(data)
        assert tok.decode(tokens) == data
        assert b"".join(tok.token_bytes(i) for i in tokens.codes.tolist()) == data
        assert b"".join(tok.pretokenize(data)) == data


@FAST
@given(text=st.text(max_size=120))
def test_text_round_trips_and_pieces_are_token_boundaries(cl100k, byte_level, text):
    for tok in (cl100k, byte_level):
        ids = tok.encode_ids(text)
        assert tok.decode(ids) == text.encode("utf-8", "surrogateescape")
        pieces = tok.pretokenize(text)
        assert b"".join(pieces) == text.encode()
        assert [i for piece in pieces for i in tok.encode_ids(piece)] == ids


@FAST
@given(text=st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\u2581"), max_size=120))
def test_metaspace_round_trips_text(metaspace, text):
    ids = metaspace.encode_ids(text)
    assert metaspace.decode(ids) == text.encode()
    normalized = b" " + text.encode() if text else b""  # the SentencePiece prefix space
    assert b"".join(metaspace.pretokenize(text)) == normalized
    assert b"".join(metaspace.token_bytes(i) for i in ids) == normalized


def test_metaspace_token_bytes_resolve_byte_fallback_and_spaces(metaspace):
    ids = metaspace.encode_ids("a 🜲")  # a rare character: spelled with byte-fallback tokens
    pieces = [metaspace.token_bytes(i) for i in ids]
    assert b"".join(pieces) == " a 🜲".encode()
    assert any(len(piece) == 1 and piece[0] >= 0x80 for piece in pieces)


def test_metaspace_refuses_bytes_that_are_not_utf8(metaspace):
    with pytest.raises(InputError, match="not UTF-8"):
        metaspace.encode(b"ok \xff")


def test_special_flag(byte_level):
    text = "<|bos|>hi<|endoftext|>"
    plain = byte_level.encode_ids(text)
    special = byte_level.encode_ids(text, special=True)
    bos, eot = byte_level.special_tokens["<|bos|>"], byte_level.special_tokens["<|endoftext|>"]
    assert bos not in plain and eot not in plain
    assert special[0] == bos and special[1] == bos and special[-1] == eot  # template BOS, then the text's
    assert byte_level.decode(special) == b"<|bos|>" + text.encode()
    assert byte_level.decode(plain) == text.encode()
    assert byte_level.encode_ids(b"\xff<|endoftext|>", special=True) == [bos] + byte_level.encode_ids(b"\xff") + [eot]


def test_pathological_inputs_finish(cl100k, byte_level):
    for text in ("a" * 1_000_000, "".join(chr(0x4E00 + i % 20000) for i in range(350_000)),
                 ("x" * 997 + "!") * 1000):
        data = text.encode()
        assert cl100k.decode(cl100k.encode(data)) == data
    noise = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    assert byte_level.decode(byte_level.encode(noise)) == noise


def test_batch_equals_single(cl100k):
    texts = MIXED_SAMPLES + [b"\xff\xfe", stdlib_text(20_000)] * 3
    batch = cl100k.encode_batch(texts)
    assert [t.tolist() for t in batch] == [cl100k.encode_ids(t) for t in texts]
    assert cl100k.decode_batch(batch) == [t if isinstance(t, bytes) else t.encode() for t in texts]


def _encode_in_worker(args):
    tok, text = args
    return tok.encode_ids(text)


def test_pickling_keeps_the_tokenizer(cl100k, metaspace, tmp_path):
    for tok in (cl100k, metaspace):
        clone = pickle.loads(pickle.dumps(tok))
        assert clone.identity == tok.identity and clone.engine == tok.engine
        assert clone.encode_ids("pickled text 123") == tok.encode_ids("pickled text 123")
    with ProcessPoolExecutor(max_workers=1) as pool:
        assert pool.submit(_encode_in_worker, (cl100k, "across processes")).result() == \
            cl100k.encode_ids("across processes")


def test_tokens_meta_and_mismatch(cl100k, byte_level):
    tokens = cl100k.encode("hello")
    assert tokens.meta["modality"] == "text" and tokens.meta["source_bytes"] == 5
    assert tokens.meta["codebook_size"] == cl100k.vocab_size == 100277
    with pytest.raises(TokenizerMismatchError):
        byte_level.decode(tokens)


def test_bad_ids(cl100k):
    with pytest.raises(InputError, match="not a token id"):
        cl100k.decode([1, 100256])  # a hole in cl100k's ids
    with pytest.raises(InputError, match="not a token id"):
        cl100k.token_bytes(10**6)


def test_text_inputs(cl100k):
    # invalid="runs": surrogate-escaped bytes (os.fsdecode), other lone surrogates refused
    assert cl100k.encode_ids("caf\udcc3", invalid="runs") == cl100k.encode_ids(b"caf\xc3", invalid="runs")
    with pytest.raises(InputError, match="surrogate"):
        cl100k.encode("\ud800", invalid="runs")
    # the default reads them as tiktoken does (tests/test_text_tiktoken_suite.py checks it against tiktoken)
    assert cl100k.encode_ids("\ud800") == cl100k.encode_ids("\ufffd")
    with pytest.raises(InputError, match="invalid"):
        cl100k.encode("x", invalid="nope")
    with pytest.raises(InputError, match="str or bytes"):
        cl100k.encode(12)


def test_save_and_load_folder(byte_level, metaspace, tmp_path):
    for name, tok in (("bl", byte_level), ("ms", metaspace)):
        folder = tok.save(tmp_path / name)
        config = json.loads((folder / "config.json").read_text())
        assert config["kind"] == "text.bpe"
        loaded = tokkit.load(folder)
        assert loaded.identity["hash"] == tok.identity["hash"]
        assert loaded.encode_ids(stdlib_text(5000)) == tok.encode_ids(stdlib_text(5000))


def test_files(cl100k, tmp_path):
    source = tmp_path / "in.txt"
    source.write_bytes(b"file \xff text\n")
    tokens = cl100k.encode_file(source)
    out = tmp_path / "out.txt"
    cl100k.write_decoded(cl100k.decode(tokens), out)
    assert out.read_bytes() == source.read_bytes()
    with pytest.raises(OutputExistsError):
        cl100k.write_decoded(b"x", out)
    cl100k.write_decoded(b"x", out, force=True)
    assert out.read_bytes() == b"x"
    with pytest.raises(InputError, match="cannot read|directory"):
        cl100k.encode_file(tmp_path)
    facts = cl100k.describe()
    assert facts["vocab_size"] == 100277 and facts["engine"] == "tiktoken" and facts["encoding"] == "cl100k_base"


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def test_wordpiece_and_unigram_are_refused(tmp_path):
    from tokenizers import Tokenizer, models

    wordpiece = Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1}, unk_token="[UNK]")).to_str()
    unigram = Tokenizer(models.Unigram([("<unk>", 0.0), ("a", -1.0)], 0)).to_str()
    for name, text, kind in (("wp.json", wordpiece, "WordPiece"), ("ug.json", unigram, "Unigram")):
        with pytest.raises(UnsupportedFormatError, match=f"{kind} model.*needs BPE"):
            tokkit.load(_write(tmp_path, name, text))


@pytest.mark.parametrize("content, error, message", [
    ("{not json", InputError, "not valid JSON"),
    ({"version": "1.0"}, UnsupportedFormatError, "no \"model\""),
    ({"model": {"type": "BPE", "vocab": {"a": 0}}}, UnsupportedFormatError, "vocab or a merges"),
    ({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}, UnsupportedFormatError, "HF tokenizers cannot"),
])
def test_malformed_tokenizer_json(tmp_path, content, error, message):
    with pytest.raises(error, match=message):
        tokkit.load(_write(tmp_path, "tokenizer.json", content))


def test_unknown_tiktoken_file_needs_a_pattern(tmp_path):
    from tokkit.text.tiktoken_files import format_tiktoken_ranks

    ranks = {bytes([b]): b for b in range(256)} | {b"ab": 256, b"abc": 257}
    path = tmp_path / "mine.tiktoken"
    path.write_bytes(format_tiktoken_ranks(ranks))
    with pytest.raises(UnsupportedFormatError, match="pass its pre-tokenizer regex"):
        tokkit.load(path)
    tok = tokkit.load(path, pattern=r"\S+|\s+", special_tokens={"<eot>": 258})
    assert tok.encode_ids("abc ab") == [257, 32, 256]
    assert tok.encode_ids("abc<eot>", special=True) == [257, 258]
    with pytest.raises(InputError, match="apply to .tiktoken files only"):
        tokkit.load(_write(tmp_path, "t.json", train_tokenizer_json("gpt2")), pattern="x")


def test_rank_tables_need_every_byte_and_a_valid_pattern():
    every_byte = {bytes([b]): b for b in range(256)}
    with pytest.raises(UnsupportedFormatError, match="1 of the 256 single bytes"):
        BPETokenizer.from_ranks({b"a": 0}, r"\S+")
    with pytest.raises(UnsupportedFormatError, match="pattern .* is unusable"):
        BPETokenizer.from_ranks(every_byte, "(")


def test_metaspace_pre_tokenizer_form():
    """The newer SentencePiece conversion (Metaspace pre-tokenizer and decoder, prepend_scheme "first")."""
    from tokenizers import Tokenizer

    config = json.loads(train_tokenizer_json("metaspace"))
    metaspace = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
    config.update(normalizer=None, pre_tokenizer=metaspace, decoder=metaspace)
    text = json.dumps(config)
    tok, hf = BPETokenizer.from_tokenizer_json(text), Tokenizer.from_str(text)
    hf.encode_special_tokens = True
    for sample in [s for s in MIXED_SAMPLES if not s.startswith(" ")] + ["x  y", "日本"]:
        ids = tok.encode_ids(sample)
        assert ids == hf.encode(sample, add_special_tokens=False).ids
        assert tok.decode(ids) == sample.encode()  # SentencePiece's dummy prefix space is removed again
    # this form prefixes no space to text that starts with one, so "x" and " x" encode alike (a known loss)
    assert tok.encode_ids(" x") == tok.encode_ids("x") and tok.decode(tok.encode_ids(" x")) == b"x"
