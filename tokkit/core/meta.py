"""Validating the metadata of tokens read from files, before anything is allocated from it.

One mechanism for every modality: a tokenizer declares the fields its tokens' ``meta`` may hold in
``Tokenizer.meta_schema`` (name -> :class:`Field`: type, bounds, list length, required or not) and, for
checks that relate fields to each other or to the codes (``n_samples <= T * hop``, the padded canvas of an
image), overrides ``Tokenizer.validate_meta``. ``Tokenizer.check_tokens`` runs both, after the fields
every token item has (:data:`COMMON_SCHEMA`, also checked by the container as it reads a file) and after
checking that the codes lie in ``[0, codebook_size)``. A violation raises :class:`TokenFileError` with one
line naming the field, its value and the allowed range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from tokkit.errors import TokenFileError

#: the largest codebook a token file may declare (codes are packed with at most 63 bits)
MAX_CODEBOOK_SIZE = 1 << 62
#: the longest string (name, source, hash) a metadata field may hold
MAX_TEXT = 4096


@dataclass(frozen=True)
class Field:
    """One metadata field: its ``type`` (int, float, str, bool, list or dict), bounds for numbers (and for
    the items of a list of numbers), a fixed ``length`` for lists, and whether it is ``required``."""

    type: type
    minimum: float | None = None
    maximum: float | None = None
    length: int | None = None
    required: bool = False


def Int(minimum: int | None = None, maximum: int | None = None, *, required: bool = False) -> Field:
    """An integer field within ``[minimum, maximum]``."""
    return Field(int, minimum, maximum, required=required)


def Float(minimum: float | None = None, maximum: float | None = None, *, required: bool = False) -> Field:
    """A finite number within ``[minimum, maximum]`` (an int is accepted too)."""
    return Field(float, minimum, maximum, required=required)


def Text(*, required: bool = False) -> Field:
    """A string of at most :data:`MAX_TEXT` characters."""
    return Field(str, required=required)


def IntList(length: int, minimum: int | None = None, maximum: int | None = None, *, required: bool = False) -> Field:
    """A list of exactly ``length`` integers, each within ``[minimum, maximum]``."""
    return Field(list, minimum, maximum, length=length, required=required)


#: fields every token item carries, whatever its modality
COMMON_SCHEMA: dict[str, Field] = {
    "modality": Text(),
    "codebook_size": Int(1, MAX_CODEBOOK_SIZE),
    "source": Text(),
    "tokenizer": Field(dict),
}


def _number_ok(value: Any, field: Field, integer: bool) -> bool:
    if isinstance(value, bool):
        return False
    if integer and not isinstance(value, int):
        return False
    if not integer and not (isinstance(value, (int, float)) and math.isfinite(value)):
        return False
    return (field.minimum is None or value >= field.minimum) and (field.maximum is None or value <= field.maximum)


def _describe(field: Field) -> str:
    name = {int: "an integer", float: "a finite number", str: "a string", bool: "true or false",
            dict: "an object"}.get(field.type, "a list")
    if field.type is list:
        name = f"a list of {field.length} integers"
    if field.minimum is not None or field.maximum is not None:
        low = "-inf" if field.minimum is None else f"{field.minimum:g}"
        high = "inf" if field.maximum is None else f"{field.maximum:g}"
        name += f" in [{low}, {high}]"
    return name


def bad_field(name: str, value: Any, expected: str, what: str = "these tokens") -> TokenFileError:
    """The one-line error for a metadata field that is out of range (also used by cross-field checks)."""
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return TokenFileError(f"{what} carry {name}={shown} in their metadata; it must be {expected}: "
                          f"the token file is damaged or was not made by this tokenizer")


def check_field(name: str, value: Any, field: Field, what: str = "these tokens") -> None:
    """Raise TokenFileError unless ``value`` fits ``field``."""
    ok = True
    if field.type is int:
        ok = _number_ok(value, field, True)
    elif field.type is float:
        ok = _number_ok(value, field, False)
    elif field.type is str:
        ok = isinstance(value, str) and len(value) <= MAX_TEXT
    elif field.type is bool:
        ok = isinstance(value, bool)
    elif field.type is dict:
        ok = isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) and len(v) <= MAX_TEXT
                                             for k, v in value.items())
    elif field.type is list:
        ok = isinstance(value, list) and (field.length is None or len(value) == field.length) \
            and all(_number_ok(item, field, True) for item in value)
    if not ok:
        raise bad_field(name, value, _describe(field), what)


def validate_fields(meta: Mapping[str, Any], schema: Mapping[str, Field], what: str = "these tokens") -> None:
    """Check every field of ``schema`` present in ``meta`` (and that required ones are present)."""
    if not isinstance(meta, Mapping):
        raise TokenFileError(f"{what} have metadata of type {type(meta).__name__}, not an object: the token file is damaged")
    for name, field in schema.items():
        if name in meta:
            check_field(name, meta[name], field, what)
        elif field.required:
            raise TokenFileError(f"{what} lack the {name!r} field in their metadata: the token file is damaged "
                                 f"or was not made by this tokenizer")
