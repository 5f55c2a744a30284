"""``TokenizeFn``: a picklable batch encoder for HF datasets, Ray Data, DataLoaders and plain loops.

It holds only the tokenizer's name or path and identity, so it pickles to a few hundred bytes and
hashes the same in every run (HF ``datasets`` fingerprints transforms by pickling them). Each
process loads the tokenizer on first use and refuses one whose hash differs from the one pinned
when the function was made.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from tokkit.core import registry
from tokkit.core.tokenizer import Tokenizer
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError, TokenizerMismatchError, TokkitError
from tokkit.pipelines.records import code_dtype, to_record

#: columns of the batch ``TokenizeFn`` returns (``error`` only with ``skip_errors=True``)
OUTPUT_COLUMNS = ("codes", "shape", "meta")


class TokenizeFn:
    """Encode ``batch[column]`` with a tokenizer; return columns ``codes``, ``shape`` and ``meta``.

    ``tokenizer``: a built-in name, a path (saved folder, tokenizer.json, ...), a loaded
    Tokenizer (its ``name`` must load it again in another process), or another TokenizeFn whose
    tokenizer (name, pinned hash, registered kind) and options it reuses without loading anything
    here. ``column`` defaults to "text". With ``files=True`` the column holds file paths, read
    with ``Tokenizer.encode_file``; otherwise its values go to ``encode``. ``options``: the tokenizer's
    encode options (e.g. ``{"tokens": 16}``), checked against its declaration and given to every encode.
    An item that fails with an input error (a TokkitError) raises InputError naming it; with
    ``skip_errors=True`` it gets empty codes and its message in an extra ``error`` column (empty string
    for items that succeeded). Any other exception is a bug and propagates unchanged.

    >>> fn = TokenizeFn("text")                                    # doctest: +SKIP
    >>> ds = ds.map(fn, batched=True, num_proc=4)                  # HF datasets  # doctest: +SKIP
    >>> ds = ds.map_batches(TokenizeFn, fn_constructor_args=(fn,), concurrency=4)  # Ray actors  # doctest: +SKIP
    """

    def __init__(self, tokenizer: str | os.PathLike | Tokenizer | TokenizeFn, column: str | None = None, *,
                 files: bool | None = None, skip_errors: bool | None = None,
                 options: dict[str, Any] | None = None) -> None:
        if isinstance(tokenizer, TokenizeFn):  # a template, e.g. the constructor argument of Ray actors
            state = tokenizer.__getstate__()
            given = {"column": column, "files": files, "skip_errors": skip_errors, "options": options}
            self.__setstate__({**state, **{key: value for key, value in given.items() if value is not None}})
            return
        if isinstance(tokenizer, Tokenizer):
            if not tokenizer.name:
                raise InputError("this tokenizer has no name or path to load it from in other processes; "
                                 "save it and pass the folder")
            loaded = tokenizer
        else:
            loaded = registry.load(tokenizer)
        self.spec = loaded.name
        self.column = "text" if column is None else column
        self.files = bool(files)
        self.skip_errors = bool(skip_errors)
        self.options = loaded.check_options(dict(options or {}))
        self.identity = dict(loaded.identity)
        # a kind registered at run time (a plugin) must be registered again in fresh worker processes
        self.kind_loader = registry.KIND_LOADERS.get(loaded.kind)
        self._tokenizer: Tokenizer | None = loaded

    # -- pickling: only the small, stable state travels (and is what datasets hashes) ----------
    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key != "_tokenizer"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({"options": {}, **state})
        self._tokenizer = None

    def __repr__(self) -> str:
        return (f"TokenizeFn({self.spec!r}, column={self.column!r}, files={self.files}, skip_errors={self.skip_errors}"
                + (f", options={self.options!r})" if self.options else ")"))

    @property
    def tokenizer(self) -> Tokenizer:
        """The tokenizer, loaded on first use in this process and checked against the pinned hash."""
        if self._tokenizer is None:
            kind = self.identity["kind"]
            if self.kind_loader and kind not in registry.KIND_LOADERS:
                registry.register_kind(kind, self.kind_loader)
            loaded = registry.load(self.spec)
            if loaded.identity["hash"] != self.identity["hash"]:
                raise TokenizerMismatchError(
                    f"{self.spec} now has hash {loaded.identity['hash']}, but this job was set up with "
                    f"hash {self.identity['hash']}; the tokenizer changed while the job ran")
            self._tokenizer = loaded
        return self._tokenizer

    # -- encoding ---------------------------------------------------------------------------
    def _values(self, batch: dict[str, Any]) -> list[Any]:
        try:
            values = batch[self.column]
        except KeyError:
            raise InputError(f"the batch has no column {self.column!r} (columns: {', '.join(map(str, batch))}); "
                             f"pass column=...") from None
        return list(values)

    def _encode_one(self, tokenizer: Tokenizer, index: int, value: Any) -> Tokens | str:
        try:
            return tokenizer.encode_file(value, **self.options) if self.files else tokenizer.encode(value, **self.options)
        except (TokkitError, OSError) as exc:  # an input error of one item (or an input file that cannot be
            if isinstance(exc, OSError) and not self.files:  # read), reported with the item's name; bugs surface
                raise
            reason = str(exc) if isinstance(exc, TokkitError) else f"cannot read {value}: {exc.strerror or exc}"
            if self.skip_errors:
                return reason
            name = str(value) if self.files else f"item {index} of the batch"
            raise InputError(f"cannot encode {name}: {reason}") from exc

    def encode_values(self, values: Sequence[Any]) -> list[Tokens | str]:
        """Tokens for each value; with ``skip_errors``, a failing value gives the reason (a str) instead."""
        values = list(values)
        tokenizer = self.tokenizer  # a tokenizer that cannot load fails the job, not its items
        if not self.files:
            try:  # whole-batch path: lets tokenizers batch internally
                return list(tokenizer.encode_batch(values, **self.options))
            except TokkitError:  # an input error: fall through to find, name or skip the failing item
                pass
        return [self._encode_one(tokenizer, index, value) for index, value in enumerate(values)]

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        """Encode one batch (a dict of columns); return the record columns, one row per input row."""
        columns: dict[str, list] = {name: [] for name in OUTPUT_COLUMNS}
        errors: list[str] = []
        for result in self.encode_values(self._values(batch)):
            if isinstance(result, str):
                columns["codes"].append(np.zeros(0, dtype=code_dtype(self.tokenizer.codebook_size)))
                columns["shape"].append(np.zeros(1, dtype=np.int32))
                columns["meta"].append("{}")
                errors.append(result)
                continue
            for name, value in to_record(result).items():
                columns[name].append(value)
            errors.append("")
        if self.skip_errors:
            columns["error"] = errors
        return columns
