"""JSON round trips for every config dataclass (quantizers, codecs): unknown keys refused by name."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any, ClassVar

from tokkit.errors import InputError

if TYPE_CHECKING:  # typing.Self needs Python 3.11; it is only used in annotations
    from typing_extensions import Self


@dataclasses.dataclass
class JsonConfig:
    """Base of every config: ``to_dict``/``from_dict``/``to_json``/``from_json``/``from_file``.

    A config whose class sets ``kind`` (the registry key of a saved model) writes it into its dict,
    so that the dict is a complete ``config.json``; ``from_dict`` accepts and drops it.
    """

    kind: ClassVar[str | None] = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists), led by ``kind`` when the class has one."""
        fields = json.loads(json.dumps(dataclasses.asdict(self)))
        return {"kind": self.kind, **fields} if self.kind else fields

    def to_json(self) -> str:
        """Canonical JSON text (sorted keys)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a dict, refusing keys this config does not have."""
        if not isinstance(data, dict):
            raise InputError(f"{cls.__name__} needs a JSON object, got {type(data).__name__}")
        if cls.kind:
            data = {key: value for key, value in data.items() if key != "kind"}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"{cls.__name__} has no field(s) {unknown}; known fields: {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_file(cls, path: str) -> Self:
        """Read a JSON config file (e.g. a training ``--config``), with a one-line error naming it."""
        try:
            with open(path, encoding="utf-8") as handle:
                return cls.from_dict(json.load(handle))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read the config {path}: {exc}") from None
