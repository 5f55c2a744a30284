"""Helpers shared by the CLI commands: input checks, tokenizer choice, progress bars."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

import click
from tqdm import tqdm

from tokkit.core.registry import default_tokenizer_name, load, tokenizer_classes
from tokkit.core.tokenizer import Option, Tokenizer
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


def declared_options() -> dict[str, list[tuple[type[Tokenizer], Option]]]:
    """Every encode option the registered tokenizer classes declare: name -> [(class, option), ...]."""
    found: dict[str, list[tuple[type[Tokenizer], Option]]] = {}
    for cls in tokenizer_classes().values():
        for option in cls.options:
            found.setdefault(option.name, []).append((cls, option))
    return found


def _option_flag(name: str, owners: list[tuple[type[Tokenizer], Option]]) -> click.Option:
    """One click flag for a declared option (values are checked later by the chosen tokenizer's Option)."""
    first = owners[0][1]
    flag = first.flag
    helps = "; ".join(f"{cls.modality} ({cls.kind}): {option.help} [{option.describe_range()}]"
                      for cls, option in owners)
    if all(option.type is bool for _, option in owners):
        negative = "--no-" + flag[2:]
        return click.Option([f"{flag}/{negative}", name], default=None, help=helps)
    return click.Option([flag, name], default=None, metavar=first.metavar or first.type.__name__.upper(), help=helps)


class TokenizerOptionsCommand(click.Command):
    """A command that adds one flag per encode option the registered tokenizers declare (read from their
    ``options`` when the command is parsed or its help shown); the callback gets them as ``**options``,
    None where not given."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        taken = {opt for param in params for opt in getattr(param, "opts", [])}
        extra = [_option_flag(name, owners) for name, owners in sorted(declared_options().items())
                 if owners[0][1].flag not in taken]
        help_option = self.get_help_option(ctx)
        if help_option is not None and params and params[-1] is help_option:
            return params[:-1] + extra + [help_option]
        return params + extra


def check_tokenizer_options(tokenizer: Tokenizer, given: dict[str, object]) -> dict[str, object]:
    """The flags given on the command line (None: not given), checked against the chosen tokenizer's options."""
    given = {name: value for name, value in given.items() if value is not None}
    for name in given:
        if tokenizer.option(name) is None:
            owners = [cls.modality for cls, _ in declared_options().get(name, [])]
            flag = "--" + name.replace("_", "-")
            applies = f"applies to {', '.join(sorted(set(owners)))} tokenizers" if owners else "is not an option"
            raise InputError(f"{flag} {applies}; {tokenizer.name or tokenizer.kind} is a "
                             f"{tokenizer.modality} tokenizer ({tokenizer.kind})")
    return tokenizer.check_options(given)


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
