"""JSON round trips for quantizer configs: plain dataclasses, unknown keys refused by name."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from tokkit.errors import InputError

if TYPE_CHECKING:  # typing.Self needs Python 3.11; it is only used in annotations
    from typing_extensions import Self


@dataclasses.dataclass
class QuantizerConfig:
    """Base of every quantizer config: ``to_dict``/``from_dict``/``to_json``/``from_json``."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists)."""
        return json.loads(self.to_json())

    def to_json(self) -> str:
        """Canonical JSON text (sorted keys)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a dict, refusing keys this config does not have."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"{cls.__name__} has no field(s) {unknown}; known fields: {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))
