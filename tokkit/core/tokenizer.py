"""The one contract every tokenizer follows, whatever its modality.

A tokenizer is a :class:`Tokenizer` subclass that

- sets ``modality`` and ``kind`` (the registry key written into saved configs; register it with
  :func:`tokkit.core.registry.register_kind`, giving its class so the CLI and the contract tests see it);
- implements ``encode(item, **options) -> Tokens`` for one item. Its keyword options are DECLARED in the
  class attribute ``options`` (a tuple of :class:`Option`: name, type, default, help, valid range or
  choices), and the method takes exactly those as keyword-only parameters with the same defaults. The
  base class checks every call of ``encode``, ``encode_batch`` and ``encode_file`` against the
  declaration: an undeclared name or an invalid value raises :class:`~tokkit.errors.InputError`, the
  same message for every tokenizer. ``tokkit encode`` builds one flag per declared option
  (``--name-with-dashes``) from these declarations; nothing is discovered by reflection;
- implements ``decode(tokens)`` accepting :class:`Tokens` (checked with :meth:`Tokenizer.check_tokens`)
  or a bare integer array / list of ids, which decodes with the model's defaults where Tokens would
  carry more (the model's sample rate, the model's picture size); :meth:`Tokenizer.codes_and_meta`
  does both; ``decode_batch`` takes a list of either;
- if it runs a torch model, sets ``uses_device = True``, takes ``device`` ("auto", "cpu", "cuda" or
  "cuda:N"; resolved with :func:`tokkit.core.device.resolve_device`) in its constructor AND in its
  registry loader, and keeps the resolved device in ``self.device``; tokenizers without a model refuse
  a ``device`` option with an InputError;
- batches for real in ``encode_batch`` / ``decode_batch`` where its model allows it (padding and masking
  or grouping); each result equals encoding or decoding that item alone. The defaults here loop;
- declares the metadata fields its tokens carry in ``meta_schema`` (type, bounds, length, required; see
  :mod:`tokkit.core.meta`) and checks between fields and codes in :meth:`Tokenizer.validate_meta`:
  :meth:`Tokenizer.check_tokens` runs them, with the codebook and code-range checks, before ``decode``
  allocates anything from a token file's numbers;
- raises a :class:`~tokkit.errors.TokkitError` subclass (``InputError`` for a bad item, value or
  option) for every mistake a user can make, never a bare ValueError/TypeError;
- implements ``save(directory)`` such that ``tokkit.load(directory)`` gives a tokenizer with the same
  identity (config hash) that encodes identically;
- implements :meth:`Tokenizer.example_inputs` (a few small, valid, synthetic items) so that the shared
  contract suite ``tests/test_contract.py`` can run it: every built-in name and every registered kind
  whose class has a classmethod ``example_tokenizer()`` (a small working instance, e.g. random weights)
  go through the same checks automatically.
"""

from __future__ import annotations

import abc
import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Mapping, Sequence

import numpy as np

from tokkit.core.meta import COMMON_SCHEMA, Field, validate_fields
from tokkit.core.retired import retired_note
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError, TokenizerMismatchError


def config_hash(payload: bytes) -> str:
    """Short, stable fingerprint of a tokenizer's defining bytes (config + weights or vocabulary)."""
    return hashlib.sha256(payload).hexdigest()[:16]


def canonical_json(obj: Any) -> bytes:
    """JSON with sorted keys and no whitespace: equal objects give equal bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_hash(obj: Any) -> str:
    """Short sha256 (16 hex digits) of ``obj`` as canonical JSON: equal objects, equal hashes."""
    return config_hash(canonical_json(obj))


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Option:
    """One keyword option of a tokenizer's ``encode``, declared on its class.

    ``type`` is bool, int, float or str; ``low``/``high`` bound numbers (inclusive; ``high`` may name an
    attribute of the tokenizer, e.g. "max_tokens", when the bound depends on the model); ``choices``
    lists the allowed strings. ``metavar`` names the value in ``--help``.
    """

    name: str
    type: type
    default: Any
    help: str
    low: float | None = None
    high: float | str | None = None
    choices: tuple[str, ...] = ()
    metavar: str = ""

    @property
    def flag(self) -> str:
        """The CLI flag: ``--`` and the name with dashes."""
        return "--" + self.name.replace("_", "-")

    def bounds(self, tokenizer: object | None = None) -> tuple[Any, Any]:
        """(low, high) with a named ``high`` read from ``tokenizer`` (None when unknown)."""
        high = self.high
        if isinstance(high, str):
            high = getattr(tokenizer, high, None) if tokenizer is not None else None
        return self.low, high

    def describe_range(self, tokenizer: object | None = None) -> str:
        """The valid values in words, for error messages and ``--help``."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        low, high = self.bounds(tokenizer)
        if isinstance(self.high, str) and high is None:
            high = f"the tokenizer's {self.high}"
        words = _TYPE_NAMES.get(self.type, self.type.__name__)
        if low is not None and high is not None:
            return f"{words} from {low} to {high}"
        if low is not None:
            return f"{words} >= {low}"
        if high is not None:
            return f"{words} <= {high}"
        return words

    def check(self, value: Any, tokenizer: object | None = None) -> Any:
        """``value`` converted to ``type`` (strings from the command line are parsed) and checked against
        the range; an InputError that names the option and its valid values otherwise. None means default."""
        if value is None:
            return self.default
        owner = f"{getattr(tokenizer, 'kind', '')} option {self.name}".strip()
        try:
            converted = self._convert(value)
        except (TypeError, ValueError):
            raise InputError(f"{owner} must be {self.describe_range(tokenizer)}, got {value!r}") from None
        low, high = self.bounds(tokenizer)
        if (self.choices and converted not in self.choices) or (low is not None and converted < low) \
                or (high is not None and converted > high) or (self.type is float and converted != converted):
            raise InputError(f"{owner} must be {self.describe_range(tokenizer)}, got {value!r}")
        return converted

    def _convert(self, value: Any) -> Any:
        if self.type is bool:
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE
            raise ValueError(value)
        if self.type is int:
            if isinstance(value, (bool, np.bool_)) or isinstance(value, float):
                raise TypeError(value)
            if isinstance(value, str):
                return int(value.strip())
            if isinstance(value, (int, np.integer)):
                return int(value)
            raise TypeError(value)
        if self.type is float:
            if isinstance(value, (bool, np.bool_)):
                raise TypeError(value)
            if isinstance(value, (str, int, float, np.integer, np.floating)):
                return float(value)
            raise TypeError(value)
        if self.type is str:
            if not isinstance(value, str):
                raise TypeError(value)
            return value
        return self.type(value)


def _checks_options(method: Callable) -> Callable:
    """Wrap a subclass's encode / encode_batch / encode_file so its keyword options are checked first."""

    @functools.wraps(method)
    def checked(self: "Tokenizer", item: Any, /, **options: Any) -> Any:
        return method(self, item, **self.check_options(options))

    checked.__tokkit_checked__ = True  # type: ignore[attr-defined]
    return checked


class Tokenizer(abc.ABC):
    """Encode items of one modality to integer codes and back (the contract is in the module docstring).

    Subclasses set ``modality``, ``kind`` and ``options``, and implement ``encode``, ``decode``, ``save``,
    ``fingerprint`` and ``example_inputs``.
    """

    modality: ClassVar[str]
    kind: ClassVar[str]
    #: the keyword options of ``encode`` / ``encode_batch`` / ``encode_file`` (see :class:`Option`)
    options: ClassVar[tuple[Option, ...]] = ()
    #: True for tokenizers that run a torch model: they take ``device`` when built and loaded
    uses_device: ClassVar[bool] = False
    #: file suffixes this tokenizer reads with ``encode_file`` (lowercase, with the dot)
    input_suffixes: ClassVar[tuple[str, ...]] = ()
    #: suffix of files ``write_decoded`` makes (".txt", ".wav", ".png", ...)
    output_suffix: ClassVar[str] = ".out"

    #: fields its tokens' ``meta`` may hold (beyond :data:`tokkit.core.meta.COMMON_SCHEMA`), checked by
    #: ``check_tokens`` before decoding; cross-field checks go in :meth:`validate_meta`
    meta_schema: ClassVar[Mapping[str, Field]] = {}

    #: how this tokenizer was named when loaded (a built-in name or a path); recorded in token files
    name: str = ""
    #: the torch device the model runs on ("cpu", "cuda", ...); "cpu" for tokenizers without a model
    device: str = "cpu"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for method in ("encode", "encode_batch", "encode_file"):
            function = cls.__dict__.get(method)
            if function is not None and not getattr(function, "__tokkit_checked__", False):
                setattr(cls, method, _checks_options(function))

    # -- options --------------------------------------------------------------------------
    @classmethod
    def option(cls, name: str) -> Option | None:
        """The declared encode option called ``name``, or None."""
        return next((option for option in cls.options if option.name == name), None)

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """``options`` checked against the declaration and converted; InputError for an unknown name or a
        bad value. Only the options given are returned (None values mean "the default")."""
        checked: dict[str, Any] = {}
        for name, value in options.items():
            declared = self.option(name)
            if declared is None:
                known = ", ".join(option.name for option in self.options) or "none"
                raise InputError(f"{self.kind} tokenizers have no encode option {name!r} (their options: {known})")
            checked[name] = declared.check(value, self)
        return checked

    # -- identity -------------------------------------------------------------------------
    @abc.abstractmethod
    def fingerprint(self) -> bytes:
        """Bytes that define this tokenizer exactly (config and weights or vocabulary)."""

    @property
    def identity(self) -> dict[str, str]:
        """Name and config hash, written into every token file made by this tokenizer."""
        cached = getattr(self, "_identity_cache", None)
        if cached is None:
            cached = {"name": self.name, "kind": self.kind, "hash": config_hash(self.fingerprint())}
            self._identity_cache = cached
        return cached

    def check_tokens(self, tokens: Tokens) -> None:
        """Refuse tokens made by another tokenizer (a message that names both), and tokens whose metadata or
        codes are out of range (:mod:`tokkit.core.meta`), before anything is allocated from them."""
        validate_fields(tokens.meta, {**COMMON_SCHEMA, **self.meta_schema})
        made_by = tokens.meta.get("tokenizer") or {}
        if "tokenizer" in tokens.meta and not made_by.get("hash"):  # read from a file that records no hash
            raise TokenizerMismatchError(
                f"these tokens carry no tokenizer hash, so nothing shows that {self.name or self.kind} made them; "
                f"if you know it did, set tokens.meta['tokenizer'] = tokenizer.identity (CLI: --trust-tokenizer)")
        if made_by.get("hash") and made_by.get("hash") != self.identity["hash"]:
            raise TokenizerMismatchError(
                f"these tokens were made by tokenizer {made_by.get('name') or '?'} "
                f"(hash {made_by.get('hash')}), not by {self.name or self.kind} "
                f"(hash {self.identity['hash']}); decode them with the tokenizer that made them"
                + retired_note(made_by.get("hash"))
            )
        modality = tokens.meta.get("modality")
        if modality and modality != self.modality:
            raise TokenizerMismatchError(
                f"these are {modality} tokens; {self.name or self.kind} is a {self.modality} tokenizer"
            )
        size = tokens.meta.get("codebook_size", self.codebook_size)
        if size != self.codebook_size:
            raise TokenizerMismatchError(f"these tokens use a codebook of {size} codes; {self.name or self.kind} "
                                         f"has {self.codebook_size}; decode them with the tokenizer that made them")
        codes = np.asarray(tokens.codes)
        if codes.size and (int(codes.min()) < 0 or int(codes.max()) >= self.codebook_size):
            raise InputError(f"{self.modality} codes must lie in [0, {self.codebook_size}); these tokens are corrupted")
        self.validate_meta(tokens)

    def validate_meta(self, tokens: Tokens) -> None:
        """Checks between metadata fields and the codes (e.g. ``n_samples <= T * hop``); each field alone
        was checked against ``meta_schema``. Raise :class:`TokenFileError` (``tokkit.core.meta.bad_field``)."""

    def codes_and_meta(self, tokens: Tokens | np.ndarray | Sequence[int]) -> tuple[np.ndarray, dict[str, Any]]:
        """What ``decode`` works on: checked Tokens -> (codes, meta); an integer array or id list ->
        (the array, :meth:`base_meta`). Anything else is an InputError."""
        if isinstance(tokens, Tokens):
            self.check_tokens(tokens)
            return tokens.codes, tokens.meta
        try:
            codes = np.asarray(tokens)
        except (TypeError, ValueError):
            codes = None
        if codes is None or codes.dtype == object or (codes.size and codes.dtype.kind not in "iu"):
            raise InputError(f"{self.kind} tokenizers decode Tokens or an integer array, not {type(tokens).__name__}")
        return codes.astype(np.int64, copy=False), self.base_meta()

    def base_meta(self) -> dict[str, Any]:
        """Metadata every Tokens from this tokenizer carries."""
        return {"modality": self.modality, "tokenizer": dict(self.identity), "codebook_size": self.codebook_size}

    # -- the interface --------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def codebook_size(self) -> int:
        """Size of the code alphabet: codes lie in [0, codebook_size)."""

    @abc.abstractmethod
    def encode(self, item: Any, **options: Any) -> Tokens:
        """Encode one item with the declared ``options`` -> Tokens whose codes have the modality's shape
        (text (T,), RVQ audio (Q, T), image (K,), ...)."""

    @abc.abstractmethod
    def decode(self, tokens: Tokens | np.ndarray | Sequence[int]) -> Any:
        """Decode one item's Tokens (or bare codes)."""

    def encode_batch(self, items: Sequence[Any] | Iterable[Any], **options: Any) -> list[Tokens]:
        """Encode many items, one Tokens each (equal to encoding each alone); subclasses batch for real."""
        return [self.encode(item, **options) for item in items]

    def decode_batch(self, batch: Sequence[Tokens | np.ndarray]) -> list[Any]:
        """Decode many items' tokens (each result equal to decoding it alone)."""
        return [self.decode(tokens) for tokens in batch]

    @abc.abstractmethod
    def save(self, directory: str | os.PathLike) -> Path:
        """Write this tokenizer to ``directory`` (config.json plus its weights or vocabulary)."""

    def example_inputs(self, count: int = 3, seed: int = 0) -> list[Any]:
        """``count`` small, valid, synthetic items (of different sizes) this tokenizer encodes: for the
        contract tests, examples and benchmarks."""
        raise NotImplementedError(f"{type(self).__name__} does not implement example_inputs")

    # -- files ----------------------------------------------------------------------------
    def encode_file(self, path: str | os.PathLike, **options: Any) -> Tokens:
        """Read one input file of this modality and encode it."""
        raise InputError(f"{self.modality} tokenizers cannot read {path}")

    def write_decoded(self, item: Any, path: str | os.PathLike, *, force: bool = False) -> None:
        """Write one decoded item to ``path`` atomically."""
        raise InputError(f"{self.modality} tokenizers cannot write {path}")

    def describe(self) -> dict[str, Any]:
        """Facts for ``tokkit info``."""
        return {"modality": self.modality, "kind": self.kind, "name": self.name,
                "codebook_size": self.codebook_size, "hash": self.identity["hash"]}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name or self.kind!s} codebook={self.codebook_size}>"
