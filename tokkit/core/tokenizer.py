"""The one interface every tokenizer implements, whatever its modality."""

from __future__ import annotations

import abc
import hashlib
import json
import os
from pathlib import Path
from typing import Any, ClassVar, Iterable, Mapping, Sequence

import numpy as np

from tokkit.core.meta import COMMON_SCHEMA, Field, validate_fields
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError, TokenizerMismatchError


def config_hash(payload: bytes) -> str:
    """Short, stable fingerprint of a tokenizer's defining bytes (config + weights or vocabulary)."""
    return hashlib.sha256(payload).hexdigest()[:16]


def canonical_json(obj: Any) -> bytes:
    """JSON with sorted keys and no whitespace: equal objects give equal bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Tokenizer(abc.ABC):
    """Encode items of one modality to integer codes and back.

    Subclasses set ``modality`` and ``kind`` (the registry key written into saved configs),
    and implement ``encode``, ``decode``, ``save`` and ``fingerprint``.
    """

    modality: ClassVar[str]
    kind: ClassVar[str]
    #: file suffixes this tokenizer reads with ``encode_file`` (lowercase, with the dot)
    input_suffixes: ClassVar[tuple[str, ...]] = ()
    #: suffix of files ``write_decoded`` makes (".txt", ".wav", ".png", ...)
    output_suffix: ClassVar[str] = ".out"

    #: fields its tokens' ``meta`` may hold (beyond :data:`tokkit.core.meta.COMMON_SCHEMA`), checked by
    #: ``check_tokens`` before decoding; cross-field checks go in :meth:`validate_meta`
    meta_schema: ClassVar[Mapping[str, Field]] = {}

    #: how this tokenizer was named when loaded (a built-in name or a path); recorded in token files
    name: str = ""

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

    def base_meta(self) -> dict[str, Any]:
        """Metadata every Tokens from this tokenizer carries."""
        return {"modality": self.modality, "tokenizer": dict(self.identity), "codebook_size": self.codebook_size}

    # -- the interface --------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def codebook_size(self) -> int:
        """Size of the code alphabet: codes lie in [0, codebook_size)."""

    @abc.abstractmethod
    def encode(self, item: Any) -> Tokens:
        """Encode one item."""

    @abc.abstractmethod
    def decode(self, tokens: Tokens) -> Any:
        """Decode one item's tokens."""

    def encode_batch(self, items: Sequence[Any] | Iterable[Any]) -> list[Tokens]:
        """Encode many items; subclasses batch internally, results are per item."""
        return [self.encode(item) for item in items]

    def decode_batch(self, batch: Sequence[Tokens]) -> list[Any]:
        """Decode many items' tokens."""
        return [self.decode(tokens) for tokens in batch]

    @abc.abstractmethod
    def save(self, directory: str | os.PathLike) -> Path:
        """Write this tokenizer to ``directory`` (config.json plus its weights or vocabulary)."""

    # -- files ----------------------------------------------------------------------------
    def encode_file(self, path: str | os.PathLike) -> Tokens:
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
