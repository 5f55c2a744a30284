"""Helpers shared by the CLI commands: input checks, tokenizer choice, progress bars."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

import click
from tqdm import tqdm

from tokkit.core.registry import default_tokenizer_name, load
from tokkit.core.tokenizer import Tokenizer
from tokkit.errors import InputError

T = TypeVar("T")

STDIN = "-"


def check_input_file(path: str) -> Path:
    """A readable, non-empty regular file, or a one-line InputError saying what is wrong."""
    file = Path(path)
    if not file.exists():
        raise InputError(f"no such file: {path}")
    if file.is_dir():
        raise InputError(f"{path} is a directory; pass files")
    if not os.access(file, os.R_OK):
        raise InputError(f"cannot read {path}: permission denied")
    if file.stat().st_size == 0:
        raise InputError(f"{path} is empty: nothing to encode")
    return file


def loader_options(device: str | None) -> dict[str, str]:
    """Options for ``tokkit.load`` from the CLI flags the user actually gave."""
    return {"device": device} if device else {}


def choose_tokenizer(spec: str | None, inputs: list[str], **options: object) -> Tokenizer:
    """The tokenizer named by ``-t``, or the built-in one for the inputs' kind."""
    if spec:
        return load(spec, **options)
    names = {default_tokenizer_name(path) for path in inputs if path != STDIN} or {"text"}
    if len(names) > 1:
        raise InputError(f"the inputs mix modalities ({', '.join(sorted(names))}); encode each kind in its own call")
    return load(names.pop(), **options)


def progress(items: Iterable[T], total: int | None, desc: str) -> Iterator[T]:
    """A progress bar on stderr, shown only for interactive, multi-item work."""
    show = (total or 0) > 1 and sys.stderr.isatty()
    return iter(tqdm(items, total=total, desc=desc, unit="file", disable=not show, file=sys.stderr))


class ByteSize(click.ParamType):
    """A positive byte count: ``5000000``, ``5e6``, ``5MB``, ``500k`` or ``2MiB`` (k/M/G are powers of
    1000, Ki/Mi/Gi of 1024)."""

    name = "bytes"
    _UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "ki": 2**10, "mi": 2**20, "gi": 2**30}

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        text = str(value).strip().lower().removesuffix("b")
        number = text.rstrip("kmgi")
        unit = self._UNITS.get(text[len(number):])
        try:
            size = float(number) * unit if unit is not None else -1.0
        except ValueError:
            size = -1.0
        if not 1 <= size < float("inf"):  # also refuses NaN
            self.fail(f"{value!r} is not a byte count (e.g. 5000000, 5e6, 5MB, 500k)", param, ctx)
        return int(size)
