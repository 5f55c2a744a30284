"""Train a byte-level BPE tokenizer with HF tokenizers' trainer, in a form tokkit's fast engine runs exactly."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Iterator

from tokkit.errors import InputError
from tokkit.text.chunking import LLAMA3_PATTERN

#: pre-tokenizer styles: "llama3" (regex split, digits in threes, then bytes) or "gpt2" (GPT-2's byte-level regex)
STYLES = ("llama3", "gpt2")

#: bytes of text handed to the trainer at a time
_BLOCK = 1 << 20


def _blocks(files: Iterable[Path]) -> Iterator[str]:
    """The files' text in blocks cut after a line break; bytes that are not UTF-8 become U+FFFD."""
    for path in files:
        with open(path, "rb") as handle:
            pending = b""
            while block := handle.read(_BLOCK):
                data = pending + block
                cut = data.rfind(b"\n") + 1 or len(data)
                pending = data[cut:]
                yield data[:cut].decode("utf-8", "replace")
            if pending:
                yield pending.decode("utf-8", "replace")


def untrained_byte_level_bpe(style: str = "llama3") -> Any:
    """An HF ``tokenizers.Tokenizer`` with an empty BPE model, ``style``'s byte-level pre-tokenizer and decoder."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    if style not in STYLES:
        raise InputError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")
    tokenizer = Tokenizer(models.BPE(ignore_merges=False))
    if style == "gpt2":
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def train_bpe(files: list[str | os.PathLike], vocab_size: int, *, style: str = "llama3",
              special_tokens: list[str] | None = None, min_frequency: int = 2, progress: bool = True) -> str:
    """Train a byte-level BPE on ``files`` and return its HF tokenizer.json text.

    The vocabulary holds the 256 bytes, the special tokens and the learned merges, so every input is
    encodable and decodes back byte for byte.
    """
    from tokenizers import pre_tokenizers, trainers

    specials = list(special_tokens if special_tokens is not None else ["<|endoftext|>"])
    if vocab_size < 256 + len(specials) + 1:
        raise InputError(f"--vocab-size must exceed 256 bytes + {len(specials)} special tokens; got {vocab_size}")
    paths = [Path(file) for file in files]
    tokenizer = untrained_byte_level_bpe(style)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=progress)
    total = sum(path.stat().st_size for path in paths)
    tokenizer.train_from_iterator(_blocks(paths), trainer, length=max(1, -(-total // _BLOCK)))
    return tokenizer.to_str(pretty=False)
