"""Tiny BPE tokenizers of three families, deterministic random LMs, and the brute-force definition
of byte-level probabilities, for the ByteLM and dynamic-merge tests."""

from __future__ import annotations

import json
import tempfile
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

import tokkit
from tokkit.errors import TokkitError
from tokkit.text.bytelm import utf8_completions

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                  r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

CORPUS = [
    "the cat sat on the mat. then the cats ran!",
    "there is the theme: that is that, isn't it?",
    "they'll see 123 cats and 4567 hats in 2024.",
    "a  b   c\n\nthe end\n \n",
    "hello there hello then hello the",
]


def _train(pre_tokenizer, vocab_size: int, byte_level: bool, **bpe) -> Tokenizer:
    tok = Tokenizer(models.BPE(**bpe))
    tok.pre_tokenizer = pre_tokenizer
    alphabet = pre_tokenizers.ByteLevel.alphabet() if byte_level else []
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=alphabet, show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return tok


@lru_cache(maxsize=None)
def tokenizer_json(family: str, vocab_size: int = 300) -> str:
    """tokenizer.json text of a tiny BPE of one family: gpt2, llama3, metaspace (no prepended space),
    metaspace-first (SentencePiece style: a space is prepended to the text)."""
    if family == "gpt2":
        tok = _train(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True), vocab_size, True)
        tok.decoder = decoders.ByteLevel()
    elif family == "llama3":
        pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
                                       pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        tok = _train(pre, vocab_size, True, ignore_merges=True)
        tok.decoder = decoders.ByteLevel()
    elif family in ("metaspace", "metaspace-first"):
        scheme = "first" if family == "metaspace-first" else "never"
        pre = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme, split=True)
        small = _train(pre, vocab_size - 256 + 20, False)
        spec = json.loads(small.to_str())
        vocab = {f"<0x{b:02X}>": b for b in range(256)}
        for piece, _ in sorted(spec["model"]["vocab"].items(), key=lambda kv: kv[1]):
            vocab.setdefault(piece, len(vocab))
        spec["model"]["vocab"] = vocab
        spec["model"]["byte_fallback"] = True
        spec["decoder"] = {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}]
            + ([{"type": "Strip", "content": " ", "start": 1, "stop": 0}] if scheme == "first" else [])}
        return json.dumps(spec)
    else:
        raise ValueError(family)
    return tok.to_str()


_FOLDERS: dict[str, tempfile.TemporaryDirectory] = {}


@lru_cache(maxsize=None)
def make_tokenizer(family: str, vocab_size: int = 300):
    """The tiny tokenizer of one family, loaded through ``tokkit.load`` from its tokenizer.json."""
    folder = Path(_FOLDERS.setdefault(family, tempfile.TemporaryDirectory(prefix=f"tokkit-{family}-")).name)
    (folder / "tokenizer.json").write_text(tokenizer_json(family, vocab_size), encoding="utf-8")
    return tokkit.load(folder / "tokenizer.json")


class RandomLM:
    """A deterministic random next-token table: each context gets its own log-softmax row."""

    def __init__(self, vocab: int, seed: int = 0, scale: float = 2.0) -> None:
        self.vocab, self.seed, self.scale = vocab, seed, scale

    def row(self, context) -> np.ndarray:
        key = zlib.crc32(np.asarray(context, dtype=np.int64).tobytes())
        logits = np.random.default_rng([self.seed, key, len(context)]).normal(size=self.vocab) * self.scale
        return logits - np.logaddexp.reduce(logits)

    def __call__(self, batch: list[list[int]]) -> np.ndarray:
        return np.stack([self.row(context) for context in batch])


def _logsumexp(values: list[float]) -> float:
    return float(np.logaddexp.reduce(values)) if values else -np.inf


def brute_force_next_byte(tokenizer, lm, eos: int, prefix: bytes,
                          lead: bytes = b"") -> np.ndarray:
    """The definition, by enumeration: log P(prefix + c) summed over every valid cover, normalized.

    A cover enumerates token sequences directly (no split points, no windows); validity is checked by
    encoding the cover's full text.
    """
    tokens = [(i, tokenizer.token_bytes(i)) for i in range(tokenizer.vocab_size) if i != eos and tokenizer.token_bytes(i)]

    def encode(data: bytes) -> list[int]:
        """The encoding ByteLM's covers are defined by: invalid bytes are pieces of their own ("runs")."""
        return tokenizer.encode_ids(data, invalid="runs")

    def is_encoding(seq) -> bool:
        """seq is the tokenizer's encoding of its bytes (a whole text: it may be followed by the end)."""
        stream = b"".join(tokenizer.token_bytes(t) for t in seq)
        try:
            return stream.startswith(lead) and encode(stream[len(lead):]) == list(seq)
        except TokkitError:
            return False

    def valid(seq) -> bool:
        """seq is the tokenizer's encoding of its bytes; for bytes ending inside a character the tokenizer
        cannot encode, seq starts the encoding of those bytes plus some completion of the character."""
        stream = b"".join(tokenizer.token_bytes(t) for t in seq)
        if not stream.startswith(lead):
            return False
        text = stream[len(lead):]
        try:
            return encode(text) == list(seq)
        except TokkitError:
            pass
        for completion in utf8_completions(text):
            try:
                ids = encode(text + completion)
            except TokkitError:
                continue
            if ids[: len(seq)] == list(seq):
                return True
        return False

    rows: dict[tuple, np.ndarray] = {}

    def row(context) -> np.ndarray:
        if context not in rows:
            rows[context] = np.asarray(lm([list(context)])[0], dtype=np.float64)
        return rows[context]

    def seq_logprob(seq) -> float:
        return sum(float(row(tuple(seq[:j]))[seq[j]]) for j in range(len(seq)))

    def covers(target: bytes, pos: int, seq: tuple):
        for token, data in tokens:
            if pos + len(data) < len(target):
                if target[pos:pos + len(data)] == data:
                    yield from covers(target, pos + len(data), seq + (token,))
            elif data.startswith(target[pos:]):
                yield seq + (token,)

    def exact(target: bytes, pos: int, seq: tuple):
        if pos == len(target):
            yield seq
            return
        for token, data in tokens:
            if target.startswith(data, pos):
                yield from exact(target, pos + len(data), seq + (token,))

    stream = lead + prefix
    out = np.full(257, -np.inf)
    for c in range(256):
        terms = [seq_logprob(seq) for seq in covers(stream + bytes([c]), 0, ()) if valid(seq)]
        out[c] = _logsumexp(terms)
    terms = [seq_logprob(seq) + float(row(tuple(seq))[eos]) for seq in exact(stream, 0, ()) if is_encoding(seq)]
    out[256] = _logsumexp(terms)
    return out - np.logaddexp.reduce(out)
