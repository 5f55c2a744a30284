"""A shard job: everything a worker needs to write any shard of a plan, in one picklable object."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from tokkit.errors import InputError, TokkitError
from tokkit.pipelines.manifest import FORMAT, FORMAT_VERSION
from tokkit.pipelines.plan import ShardPlan
from tokkit.pipelines.records import to_record
from tokkit.pipelines.shard_file import read_shard_facts, write_shard
from tokkit.pipelines.tokenize_fn import TokenizeFn


@dataclass
class ShardJob:
    """Encode the inputs of shard ``index`` with ``fn`` (file mode) and write its parquet file."""

    fn: TokenizeFn
    input_dir: str
    out_dir: str
    plan: ShardPlan
    modality: str
    codebook_size: int

    def shard_path(self, index: int) -> Path:
        return Path(self.out_dir) / self.plan.shard_name(index)

    def write(self, index: int) -> dict[str, Any]:
        """Encode and write one shard; return its facts (counts and skipped inputs)."""
        shard = self.plan.shards[index]
        results = self.fn.encode_values([os.path.join(self.input_dir, f.relative) for f in shard])
        sources, records, skipped = [], [], []
        for item, result in zip(shard, results):
            if isinstance(result, str):
                skipped.append({"source": item.relative, "error": result})
            else:
                sources.append(item.relative)
                records.append(to_record(result))
        facts = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "shard": index,
            "shard_hash": self.plan.shard_hash(index), "tokenizer": self.fn.identity,
            **({"options": self.fn.options} if self.fn.options else {}),
            "modality": self.modality, "codebook_size": self.codebook_size,
            "items": len(records), "tokens": sum(int(r["codes"].size) for r in records), "skipped": skipped,
        }
        write_shard(self.shard_path(index), sources, records, self.codebook_size, facts)
        return facts

    def write_batch(self, indices: Iterable[int]) -> dict[str, list]:
        """Write several shards for a data engine (Ray Data, HF datasets): columns ``shard``, ``facts`` (JSON)
        and ``error``. A user-caused failure travels back as data (its message), not as an engine exception."""
        out: dict[str, list] = {"shard": [], "facts": [], "error": []}
        for index in indices:
            try:
                facts, error = json.dumps(self.write(int(index))), ""
            except TokkitError as exc:
                facts, error = "", str(exc)
            out["shard"].append(int(index))
            out["facts"].append(facts)
            out["error"].append(error)
        return out

    @staticmethod
    def read_row(row: dict[str, Any]) -> dict[str, Any]:
        """The facts of one row :meth:`write_batch` made; its error, if any, raised again as an InputError."""
        if row["error"]:
            raise InputError(row["error"])
        return json.loads(row["facts"])

    def finished(self, index: int) -> dict[str, Any] | None:
        """The facts of shard ``index`` if a previous run finished it for this same plan and tokenizer."""
        facts = read_shard_facts(self.shard_path(index))
        if (facts is None or facts.get("format_version") != FORMAT_VERSION
                or facts.get("shard_hash") != self.plan.shard_hash(index)
                or (facts.get("tokenizer") or {}).get("hash") != self.fn.identity["hash"]
                or facts.get("options", {}) != self.fn.options):
            return None
        return facts
