"""``BPETokenizer``: exact byte-pair encoding of text, bytes in and bytes out.

Reads HF ``tokenizer.json`` BPE files (GPT-2 byte-level, Llama 3 regex + byte-level,
SentencePiece-converted Metaspace with byte fallback) and tiktoken rank tables. Ids equal HF
tokenizers' (or tiktoken's) for every input; the fastest exact engine is picked per file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from tokkit.core.atomic import atomic_write_bytes, atomic_write_text, check_writable
from tokkit.core.tokenizer import Option, Tokenizer, canonical_json
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError, UnsupportedFormatError
from tokkit.text.engines import ID_DTYPE, HFEngine, TiktokenEngine
from tokkit.text.hf_json import HFLayout, RankPlan, analyze_tokenizer_json, parse_tokenizer_json

ENGINES = ("auto", "tiktoken", "hf")

_SURROGATE_RUNS = re.compile("([\udc80-\udcff]+)")

TextLike = str | bytes | bytearray | memoryview


def as_bytes(text: TextLike) -> bytes:
    """The bytes of a text: ``bytes`` as they are, ``str`` as UTF-8 (surrogate-escaped bytes restored)."""
    if isinstance(text, str):
        try:
            return text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as exc:
            raise InputError(f"the text holds a lone surrogate at character {exc.start}; "
                             f"pass bytes or valid Unicode") from None
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise InputError(f"text tokenizers encode str or bytes, not {type(text).__name__}")


class BPETokenizer(Tokenizer):
    """Byte-pair encoding of text with HF tokenizers' ids, through the fastest exact engine.

    >>> tok = BPETokenizer.from_tokenizer_json(open("tokenizer.json").read())  # doctest: +SKIP
    >>> tok.decode(tok.encode(b"caf\\xc3\\xa9 \\xff")) == b"caf\\xc3\\xa9 \\xff"   # doctest: +SKIP
    True
    """

    modality = "text"
    kind = "text.bpe"
    input_suffixes = (".txt", ".md", ".text")
    output_suffix = ".txt"
    options = (
        Option("special", bool, False, "special-token text becomes its id and the post-processor's tokens "
               "(e.g. a BOS) are added, as HF's default encode; default: every byte is plain text"),
    )

    def __init__(self, *, tokenizer_json: str | None = None, ranks: dict[bytes, int] | None = None,
                 pattern: str | None = None, special_tokens: dict[str, int] | None = None,
                 encoding_name: str = "", engine: str = "auto", source: str = "tokenizer.json") -> None:
        """Build from an HF tokenizer.json text, or from tiktoken ``ranks`` + ``pattern`` (+ specials)."""
        if engine not in ENGINES:
            raise InputError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        self._state = {"tokenizer_json": tokenizer_json, "ranks": ranks, "pattern": pattern,
                       "special_tokens": dict(special_tokens or {}), "encoding_name": encoding_name,
                       "engine": engine, "source": source}
        if tokenizer_json is not None:
            config = parse_tokenizer_json(tokenizer_json, source)
            try:
                self._layout = analyze_tokenizer_json(config)
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
                raise UnsupportedFormatError(
                    f"{source} is a malformed tokenizer.json ({type(exc).__name__}: {exc})") from None
        elif ranks is not None and pattern:
            single_bytes = sum(len(token) == 1 for token in ranks)
            if single_bytes != 256:
                raise UnsupportedFormatError(f"the rank table holds {single_bytes} of the 256 single bytes; "
                                             f"a byte-level BPE needs all of them")
            specials = dict(special_tokens or {})
            table: list[bytes | None] = [None] * (max([*ranks.values(), *specials.values()]) + 1)
            for token, rank in ranks.items():
                table[rank] = token
            for content, index in specials.items():
                table[index] = content.encode("utf-8")
            plan = RankPlan(pattern, dict(ranks), specials)
            self._layout = HFLayout(table, specials, True, None, False, ([], []), plan, "")
        else:
            raise InputError("a BPE tokenizer needs a tokenizer.json, or tiktoken ranks and a pattern")
        self.encoding_name = encoding_name
        self._engine = self._make_engine(engine)

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_tokenizer_json(cls, text: str, *, engine: str = "auto", source: str = "tokenizer.json") -> "BPETokenizer":
        """From the text of an HF tokenizer.json."""
        return cls(tokenizer_json=text, engine=engine, source=source)

    @classmethod
    def from_ranks(cls, ranks: dict[bytes, int], pattern: str, special_tokens: dict[str, int] | None = None, *,
                   encoding_name: str = "", engine: str = "auto") -> "BPETokenizer":
        """From a tiktoken rank table, its pre-tokenizer regex and its special tokens."""
        return cls(ranks=ranks, pattern=pattern, special_tokens=special_tokens,
                   encoding_name=encoding_name, engine=engine)

    def _hf_json(self) -> str:
        if self._state["tokenizer_json"] is not None:
            return self._state["tokenizer_json"]
        from tokkit.text.ranks_to_hf import tokenizer_json_from_ranks

        converted = tokenizer_json_from_ranks(self._state["ranks"], self._state["pattern"],
                                              self._state["special_tokens"])
        return json.dumps(converted, ensure_ascii=False)

    def _make_engine(self, engine: str) -> TiktokenEngine | HFEngine:
        plan = self._layout.plan
        if engine == "tiktoken" and plan is None:
            raise UnsupportedFormatError(f"the tiktoken engine cannot run this tokenizer: {self._layout.plan_refused}")
        if plan is not None and engine in ("auto", "tiktoken"):
            try:
                return TiktokenEngine(plan)
            except ValueError as exc:  # tiktoken's regex compiler rejects the pattern
                raise UnsupportedFormatError(f"the pre-tokenizer pattern {plan.pattern!r} is unusable: {exc}") from None
        try:
            return HFEngine(self._hf_json(), self._layout.byte_level, self._layout.replacement)
        except Exception as exc:  # HF's parser reports malformed files as plain exceptions
            raise UnsupportedFormatError(f"HF tokenizers cannot read {self._state['source']}: {exc}") from None

    def __getstate__(self) -> dict[str, Any]:
        return {**self._state, "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        name = state.pop("name", "")
        self.__init__(**state)
        self.name = name

    # -- identity and facts ------------------------------------------------------------------
    def fingerprint(self) -> bytes:
        if self._state["tokenizer_json"] is not None:
            return self._state["tokenizer_json"].encode("utf-8")
        ranks_digest = hashlib.sha256(b"".join(
            token + b"\0" + str(rank).encode() + b"\n" for token, rank in sorted(self._state["ranks"].items())))
        return canonical_json({"ranks": ranks_digest.hexdigest(), "pattern": self._state["pattern"],
                               "special_tokens": self._state["special_tokens"]})

    @property
    def vocab_size(self) -> int:
        """One more than the largest id (ids may have holes, as in cl100k_base)."""
        return len(self._layout.token_bytes)

    @property
    def codebook_size(self) -> int:
        return self.vocab_size

    @property
    def special_tokens(self) -> dict[str, int]:
        """Special token text -> id."""
        return dict(self._layout.special_tokens)

    @property
    def engine(self) -> str:
        """The engine encoding with this tokenizer: "tiktoken" or "hf-tokenizers"."""
        return self._engine.name

    @property
    def byte_level(self) -> bool:
        """True if every byte string is encodable and decodes back exactly (GPT-2 style byte-level BPE)."""
        return self._layout.byte_level

    def token_bytes(self, token_id: int) -> bytes:
        """The exact bytes token ``token_id`` contributes to decoded text (byte fallback and '▁' resolved)."""
        table = self._layout.token_bytes
        if not 0 <= token_id < len(table) or table[token_id] is None:
            raise InputError(f"{token_id} is not a token id of this tokenizer (vocabulary size {len(table)})")
        return table[token_id]

    def describe(self) -> dict[str, Any]:
        facts = super().describe()
        facts.update(vocab_size=self.vocab_size, engine=self.engine, byte_level=self.byte_level,
                     special_tokens=len(self._layout.special_tokens))
        if self.encoding_name:
            facts["encoding"] = self.encoding_name
        if self._layout.plan is not None:
            facts["pattern"] = self._layout.plan.pattern
        return facts

    # -- encoding ----------------------------------------------------------------------------
    def _template(self) -> tuple[list[int], list[int]]:
        if self._layout.template is None:
            raise InputError("this tokenizer's post-processor cannot be applied to text that is not UTF-8; "
                             "encode with special=False")
        return self._layout.template

    def _encode_mixed(self, data: bytes, special: bool) -> np.ndarray:
        """Ids of bytes that are not all UTF-8: valid runs as text, each invalid run as one pre-token."""
        if not self.byte_level:
            bad = data.decode("utf-8", "replace").find("\ufffd")
            raise InputError(f"this tokenizer reads UTF-8 text, and the input is not UTF-8 (near byte {max(bad, 0)}); "
                             f"only byte-level tokenizers encode arbitrary bytes")
        runs = _SURROGATE_RUNS.split(data.decode("utf-8", "surrogateescape"))
        valid_runs = [run for run in runs[0::2] if run]
        valid_ids = iter(self._engine.encode_many(valid_runs, special, template=False))
        parts: list[Any] = []
        if special:
            parts.append(self._template()[0])
        for index, run in enumerate(runs):
            if index % 2:
                parts.append(self._engine.encode_piece(run.encode("utf-8", "surrogateescape")))
            elif run:
                parts.append(next(valid_ids))
        if special:
            parts.append(self._template()[1])
        return np.concatenate([np.asarray(part, ID_DTYPE) for part in parts] or [np.zeros(0, ID_DTYPE)])

    def _encode_array(self, data: bytes, special: bool) -> np.ndarray:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return self._encode_mixed(data, special)
        return self._engine.encode_text(text, special)

    def _tokens(self, codes: np.ndarray, n_bytes: int) -> Tokens:
        return Tokens(codes, {**self.base_meta(), "source_bytes": n_bytes})

    def encode(self, text: TextLike, *, special: bool = False) -> Tokens:
        """Encode text (bytes, or str as UTF-8) to token ids.

        ``special=False`` (default): every byte is plain text, as tiktoken's ``encode_ordinary`` or HF with
        ``encode_special_tokens=True, add_special_tokens=False``; decoding gives the input back exactly.
        ``special=True``: as HF's default ``encode``: special-token text becomes its id and the
        post-processor's tokens (e.g. a BOS) are added.
        """
        data = as_bytes(text)
        return self._tokens(self._encode_array(data, special), len(data))

    def encode_ids(self, text: TextLike, *, special: bool = False) -> list[int]:
        """:meth:`encode` as a plain list of ints."""
        return self._encode_array(as_bytes(text), special).tolist()

    def encode_batch(self, texts: Iterable[TextLike], *, special: bool = False) -> list[Tokens]:
        """Encode many texts at once (on all cores); one Tokens per text."""
        datas = [as_bytes(text) for text in texts]
        decoded: list[str | None] = []
        for data in datas:
            try:
                decoded.append(data.decode("utf-8"))
            except UnicodeDecodeError:
                decoded.append(None)
        valid = iter(self._engine.encode_many([text for text in decoded if text is not None], special))
        return [self._tokens(next(valid) if text is not None else self._encode_mixed(data, special), len(data))
                for data, text in zip(datas, decoded)]

    def pretokenize(self, text: TextLike) -> list[bytes]:
        """The pre-token pieces BPE runs on, as bytes in the space of :meth:`token_bytes`.

        They concatenate to the decoded bytes of ``encode(text)`` (before a SentencePiece decoder strips
        its leading space); each piece is encoded on its own, so piece boundaries are token boundaries.
        """
        data = as_bytes(text)
        try:
            return self._engine.pieces(data.decode("utf-8"))
        except UnicodeDecodeError:
            if not self.byte_level:
                raise InputError("this tokenizer reads UTF-8 text, and the input is not UTF-8") from None
        pieces: list[bytes] = []
        for index, run in enumerate(_SURROGATE_RUNS.split(data.decode("utf-8", "surrogateescape"))):
            if index % 2:
                pieces.append(run.encode("utf-8", "surrogateescape"))
            elif run:
                pieces.extend(self._engine.pieces(run))
        return pieces

    # -- decoding ----------------------------------------------------------------------------
    def decode(self, tokens: Tokens | Sequence[int] | np.ndarray) -> bytes:
        """The bytes of ``tokens`` (Tokens or ids); special tokens decode to their text."""
        if isinstance(tokens, Tokens):
            self.check_tokens(tokens)
            tokens = tokens.codes
        table = self._layout.token_bytes
        try:
            ids = tokens.tolist() if isinstance(tokens, np.ndarray) else list(tokens)
        except TypeError:
            raise InputError(f"text tokenizers decode Tokens or a list of ids, not {type(tokens).__name__}") from None
        try:
            data = b"".join([table[index] for index in ids])
        except (TypeError, IndexError):
            bad = next(index for index in ids if not isinstance(index, int) or not 0 <= index < len(table)
                        or table[index] is None)
            raise InputError(f"{bad!r} is not a token id of this tokenizer (vocabulary size {len(table)})") from None
        if self._layout.strip_leading_space and data.startswith(b" "):
            data = data[1:]
        return data

    def decode_batch(self, batch: Sequence[Tokens | Sequence[int]]) -> list[bytes]:
        """The bytes of each item's tokens."""
        return [self.decode(tokens) for tokens in batch]

    def example_inputs(self, count: int = 3, seed: int = 0) -> list[bytes]:
        """``count`` short texts of growing length: ASCII, accented Unicode, digits and punctuation."""
        rng = np.random.default_rng(seed)
        words = ["the", "tokenizer", "café", "naïve", "Straße", "42", "x = y + 1;", "hello,", "world!", "\n"]
        return [" ".join(rng.choice(words, size=4 + 6 * index)).encode("utf-8") for index in range(count)]

    # -- files -------------------------------------------------------------------------------
    def encode_file(self, path: str | os.PathLike, *, special: bool = False) -> Tokens:
        """Encode a file's bytes (any encoding; byte-level tokenizers take any bytes)."""
        try:
            data = Path(path).read_bytes()
        except IsADirectoryError:
            raise InputError(f"{path} is a directory; pass files") from None
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
        return self.encode(data, special=special)

    def write_decoded(self, item: bytes, path: str | os.PathLike, *, force: bool = False) -> None:
        """Write decoded bytes to ``path`` atomically (refusing an existing file unless ``force``)."""
        atomic_write_bytes(check_writable(path, force=force), as_bytes(item))

    def save(self, directory: str | os.PathLike) -> Path:
        """Write a tokkit folder: config.json + tokenizer.json (+ ranks.tiktoken for tiktoken tables)."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {"kind": self.kind, "vocab_size": self.vocab_size, "engine": self._state["engine"]}
        if self._state["tokenizer_json"] is None:
            from tokkit.text.tiktoken_files import format_tiktoken_ranks

            atomic_write_bytes(folder / "ranks.tiktoken", format_tiktoken_ranks(self._state["ranks"]))
            config.update(format="tiktoken", ranks="ranks.tiktoken", pattern=self._state["pattern"],
                          special_tokens=self._state["special_tokens"], encoding=self.encoding_name)
        else:
            config["format"] = "tokenizer.json"
        atomic_write_text(folder / "tokenizer.json", self._hf_json())
        atomic_write_text(folder / "config.json", json.dumps(config, indent=2, ensure_ascii=False) + "\n")
        return folder
