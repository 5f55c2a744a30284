"""Fuzz targets over every reader of untrusted bytes, shared by the CI fuzz test and benchmarks/fuzz.py.

Each target takes bytes and must either succeed or raise a TokkitError; anything else is a finding. The
inputs are made by mutating valid seed files (byte flips, splices of boundary integers, insertions,
deletions, truncations) so the fuzzer gets past magic numbers; for the token container the checksum is
recomputed after mutating, so the header and payload checks behind it are reached. Memory: each target's
peak traced allocation (tracemalloc: Python and numpy) must stay within ``MEMORY_FACTOR`` times the input
size plus ``MEMORY_BASE``.
"""

from __future__ import annotations

import io
import json
import random
import struct
import zlib
from functools import lru_cache
from typing import Callable

import numpy as np
import torch

import tokkit
from tokkit.errors import TokkitError

MEMORY_FACTOR = 64  # peak traced memory per target run <= MEMORY_FACTOR * len(input) + MEMORY_BASE
MEMORY_BASE = 16 * 2**20

BOUNDARY_INTS = [0, 1, 2, 7, 8, 255, 256, 65535, 2**31 - 1, 2**31, 2**32 - 1, 2**40, 2**62, 2**63 - 1, -1, -(2**31)]


# -- seeds --------------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def audio_tok():
    from audio_helpers import tiny_tokenizer

    return tiny_tokenizer()


@lru_cache(maxsize=None)
def image_tok():
    from image_helpers import tiny_tokenizer

    return tiny_tokenizer()


@lru_cache(maxsize=None)
def text_tok():
    return tokkit.load("text")


def _container_seeds() -> list[bytes]:
    from audio_helpers import speechlike
    from image_helpers import picture

    from tokkit.core.container import encode_container
    from tokkit.text.dynamic_merge import merge_token_items

    text = text_tok()
    plain = text.encode(b"hello hello hello world, hello again")
    merged, _ = merge_token_items([plain, text.encode(b"hello world hello")], text, None)
    return [encode_container(plain), encode_container(merged),
            encode_container(audio_tok().encode(speechlike(0.1, 8000))),
            encode_container([image_tok().encode(picture(20, 30), tokens=3), image_tok().encode(picture(9, 9))])]


def _tokenizer_json_seed() -> bytes:
    from tokkit.text.byte_alphabet import byte_to_char

    chars = byte_to_char()
    vocab = {chars[b]: b for b in range(256)}
    vocab[chars[ord("h")] + chars[ord("e")]] = 256
    vocab[chars[ord("l")] + chars[ord("l")]] = 257
    config = {"version": "1.0", "added_tokens": [{"id": 258, "content": "<|end|>", "special": True}],
              "normalizer": None, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
              "post_processor": None, "decoder": {"type": "ByteLevel"},
              "model": {"type": "BPE", "vocab": vocab, "merges": [f"{chars[ord('h')]} {chars[ord('e')]}",
                                                                 f"{chars[ord('l')]} {chars[ord('l')]}"]}}
    return json.dumps(config).encode()


def _tiktoken_seed() -> bytes:
    import base64

    ranks = [bytes([b]) for b in range(256)] + [b"he", b"ll", b"hell"]
    return b"".join(base64.b64encode(token) + b" %d\n" % rank for rank, token in enumerate(ranks))


def _audio_seeds() -> list[bytes]:
    import soundfile as sf
    from audio_helpers import speechlike

    out = []
    for fmt in ("WAV", "FLAC", "OGG"):
        buffer = io.BytesIO()
        sf.write(buffer, speechlike(0.05, 8000), 8000, format=fmt)
        out.append(buffer.getvalue())
    return out


def _image_seeds() -> list[bytes]:
    from image_helpers import picture
    from PIL import Image

    out = []
    for fmt in ("PNG", "GIF", "TIFF", "BMP", "PPM", "JPEG", "WEBP"):
        buffer = io.BytesIO()
        Image.fromarray(picture(12, 10)).save(buffer, format=fmt)
        out.append(buffer.getvalue())
    return out


def _meta_seeds() -> list[bytes]:
    from audio_helpers import speechlike
    from image_helpers import picture

    items = [("audio", audio_tok().encode(speechlike(0.1, 8000))), ("image", image_tok().encode(picture(20, 30), tokens=3))]
    return [json.dumps({"modality": name, "codes": tokens.codes.tolist(), "meta": tokens.meta}).encode()
            for name, tokens in items]


class _ScriptSeed(torch.nn.Module):
    """A tiny module saved with torch.jit.save: the seed of the TorchScript (Cosmos .jit) reader."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2, 1)
        self.register_buffer("steps", torch.arange(4))

    def forward(self, x):
        return self.conv(x)


def _checkpoint_seeds() -> list[bytes]:
    """A TorchScript archive, a small nested state dict and the TiTok fixture checkpoint (zip pickles).
    (Legacy non-zip pickles are refused unread: their loader trusted the sizes in their header, 1.8 GB
    for a 500-byte input under this target.)"""
    from pathlib import Path

    out = []
    for save in (lambda b: torch.jit.save(torch.jit.script(_ScriptSeed()), b),
                 lambda b: torch.save({"w": torch.arange(6.0).reshape(2, 3), "n": {"b": torch.ones(2)}}, b)):
        buffer = io.BytesIO()
        save(buffer)
        out.append(buffer.getvalue())
    out.append((Path(__file__).parent / "fixtures" / "image_ports" / "titok_small.bin").read_bytes())
    return out


# -- targets ------------------------------------------------------------------------------------------
def fix_crc(data: bytes) -> bytes:
    """Recompute a token file's checksum so mutations reach the checks behind it."""
    if len(data) < 24:
        return data
    header_len, payload_len = struct.unpack_from("<IQ", data, 8)
    body = data[24:24 + header_len + payload_len]
    head, payload = body[:header_len], body[header_len:]
    return data[:20] + struct.pack("<I", zlib.crc32(payload, zlib.crc32(head))) + data[24:]


def target_container(data: bytes) -> None:
    """Read a token file, describe it (tokkit info), undo dynamic merges, and check and decode each item."""
    from tokkit.core.container import decode_container
    from tokkit.text.dynamic_merge import unmerge_tokens

    import tempfile

    from tokkit.cli.info import token_file_facts

    _, items = decode_container(fix_crc(data), "fuzzed")
    with tempfile.NamedTemporaryFile(suffix=".tok") as handle:  # tokkit info reads the metadata too
        handle.write(fix_crc(data))
        handle.flush()
        token_file_facts(handle.name)
    by_modality = {"text": text_tok(), "audio": audio_tok(), "image": image_tok()}
    for tokens in items:
        tokenizer = by_modality.get(tokens.meta.get("modality"))
        if tokenizer is None:
            continue
        tokens = unmerge_tokens(tokens, max_tokens=1 << 16)
        tokens.meta["tokenizer"] = dict(tokenizer.identity)  # the trusted path: get past the hash check
        tokenizer.decode(tokens)


def target_tokenizer_json(data: bytes) -> None:
    """Parse a tokenizer.json and encode/decode a short text with it."""
    from tokkit.text.bpe import BPETokenizer

    tokenizer = BPETokenizer.from_tokenizer_json(data.decode("utf-8", "replace"), source="fuzzed")
    tokenizer.decode(tokenizer.encode(b"hello world"))


def target_tiktoken(data: bytes) -> None:
    """Parse a .tiktoken rank file and build a tokenizer from it."""
    from tokkit.text.bpe import BPETokenizer
    from tokkit.text.tiktoken_files import parse_tiktoken_ranks

    tokenizer = BPETokenizer.from_ranks(parse_tiktoken_ranks(data, "fuzzed"), r"\S+|\s+")
    tokenizer.decode(tokenizer.encode(b"hello world"))


def target_audio(data: bytes) -> None:
    """Read audio bytes and encode them with a tiny codec."""
    audio_tok().encode(data)


def target_image(data: bytes) -> None:
    """Read image bytes and encode them with a tiny image tokenizer."""
    image_tok().encode(data)


def target_checkpoint(data: bytes) -> None:
    """Recognise and load a published checkpoint file (pickle, zip pickle or TorchScript archive) from bytes."""
    import os
    import tempfile

    from tokkit.codecs.published import load_checkpoint
    from tokkit.errors import UnsupportedFormatError

    handle, path = tempfile.mkstemp(suffix=".bin")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        load_checkpoint(path, device="cpu")
    except UnsupportedFormatError:
        pass  # tensors of no known family (two of the seeds): the answer for them, reached after reading
    finally:
        os.unlink(path)


def target_meta(data: bytes) -> None:
    """Per-modality metadata: decode codes with arbitrary metadata (JSON {modality, codes, meta})."""
    try:
        spec = json.loads(data.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return
    if not isinstance(spec, dict) or not isinstance(spec.get("meta"), dict):
        return
    tokenizer = {"audio": audio_tok(), "image": image_tok()}.get(spec.get("modality"))
    try:
        codes = np.asarray(spec.get("codes"), dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        return
    if tokenizer is None or codes.size > 4096:
        return
    meta = dict(spec["meta"])
    meta["tokenizer"] = dict(tokenizer.identity)
    tokenizer.decode(tokkit.Tokens(codes, meta))


TARGETS: dict[str, tuple[Callable[[bytes], None], Callable[[], list[bytes]]]] = {
    "container": (target_container, _container_seeds),
    "tokenizer_json": (target_tokenizer_json, lambda: [_tokenizer_json_seed()]),
    "tiktoken": (target_tiktoken, lambda: [_tiktoken_seed()]),
    "audio": (target_audio, _audio_seeds),
    "image": (target_image, _image_seeds),
    "meta": (target_meta, _meta_seeds),
    "checkpoint": (target_checkpoint, _checkpoint_seeds),
}


# -- mutation -----------------------------------------------------------------------------------------
def mutate(data: bytes, rng: random.Random, rounds: int | None = None) -> bytes:
    """A few random byte-level mutations of ``data`` (flip, boundary integer, insert, delete, truncate,
    duplicate a slice, or replace a JSON number with a boundary value)."""
    out = bytearray(data)
    for _ in range(rounds or rng.randint(1, 4)):
        kind = rng.randrange(7)
        position = rng.randrange(len(out) + 1)
        if kind == 0 and out:
            out[min(position, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif kind == 1:
            width = rng.choice([1, 2, 4, 8])
            value = rng.choice(BOUNDARY_INTS) % (1 << (8 * width))
            out[position:position + width] = value.to_bytes(width, "little")
        elif kind == 2:
            out[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 3:
            del out[position:position + rng.randint(1, 16)]
        elif kind == 4:
            del out[position:]
        elif kind == 5 and out:
            start = rng.randrange(len(out))
            out[position:position] = out[start:start + rng.randint(1, 64)]
        else:
            text = bytes(out)
            digits = [i for i in range(len(text)) if 48 <= text[i] <= 57 and (i == 0 or not 48 <= text[i - 1] <= 57)]
            if digits:
                start = rng.choice(digits)
                end = start
                while end < len(text) and 48 <= text[end] <= 57:
                    end += 1
                out[start:end] = str(rng.choice(BOUNDARY_INTS + [0.5, 1e308, -7])).encode()
    return bytes(out)


def seeds_warm(name: str) -> list[bytes]:
    """The seeds of target ``name``, each run once untraced (so first-use imports do not count as memory)."""
    import warnings

    from tokkit.codecs.audio.io import resample

    seeds = TARGETS[name][1]()
    resample(np.ones(64, np.float32), 44_100, 8_000)  # imports scipy.signal
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for data in seeds:
            TARGETS[name][0](data)
    return seeds


def run_one(name: str, data: bytes) -> str | None:
    """Run target ``name`` on ``data``: None if it succeeded or raised a TokkitError, else a description of
    the finding (an exception of another type, or peak memory above the stated bound)."""
    import tracemalloc
    import warnings

    target = TARGETS[name][0]
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            target(data)
    except TokkitError:
        pass
    except Exception as exc:  # noqa: BLE001 — every other exception is what the fuzzer looks for
        tracemalloc.stop()
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    if peak > MEMORY_FACTOR * len(data) + MEMORY_BASE:
        return f"peak memory {peak} bytes for a {len(data)}-byte input"
    return None
