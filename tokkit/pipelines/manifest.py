"""The manifest of a shard folder: format version, tokenizer identity, the plan and the counts.

``manifest.json`` (UTF-8, sorted keys, no timestamps) is written when a run starts, with
``"complete": false``, and rewritten with the counts when every shard is finished::

    {"format": "tokkit.shards", "format_version": 1, "complete": true,
     "tokenizer": {"name", "kind", "hash"}, "modality": "text", "codebook_size": 50000,
     "shard_size": 1000, "plan_hash": "...",
     "shards": [{"file": "shard-00000.parquet", "items": 998, "tokens": 123456, "skipped": 2}, ...],
     "sources": {"a/b.txt": 0, ...},                       # input (relative path) -> shard index
     "skipped": [{"source": "a/c.txt", "error": "..."}],   # inputs left out with --skip-errors
     "totals": {"inputs": 1000, "items": 998, "tokens": 123456, "skipped": 2}}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tokkit.core.atomic import atomic_write_text
from tokkit.pipelines.plan import ShardPlan

MANIFEST_NAME = "manifest.json"
FORMAT = "tokkit.shards"
FORMAT_VERSION = 1


def plan_manifest(plan: ShardPlan, identity: dict[str, str], modality: str, codebook_size: int,
                  unreadable: list[dict[str, str]], options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of a run that has started: what goes where, made by which tokenizer with which encode
    options (recorded only when some were given, so older manifests read the same)."""
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "complete": False,
        "tokenizer": dict(identity), **({"options": dict(options)} if options else {}),
        "modality": modality, "codebook_size": codebook_size,
        "shard_size": plan.shard_size, "plan_hash": plan.plan_hash(),
        "shards": [{"file": plan.shard_name(i), "inputs": len(shard)} for i, shard in enumerate(plan.shards)],
        "sources": plan.source_index(), "skipped": list(unreadable),
    }


def final_manifest(started: dict[str, Any], shard_facts: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest once every shard is written: per-shard and total counts, every skipped input."""
    shards = [{"file": entry["file"], "inputs": entry["inputs"], "items": facts["items"],
               "tokens": facts["tokens"], "skipped": len(facts["skipped"])}
              for entry, facts in zip(started["shards"], shard_facts)]
    skipped = started["skipped"] + [s for facts in shard_facts for s in facts["skipped"]]
    totals = {"inputs": len(started["sources"]) + len(started["skipped"]),
              "items": sum(s["items"] for s in shards), "tokens": sum(s["tokens"] for s in shards),
              "skipped": len(skipped)}
    return {**started, "complete": True, "shards": shards, "skipped": skipped, "totals": totals}


def write_manifest(out_dir: str | os.PathLike, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` into ``out_dir`` atomically."""
    path = Path(out_dir) / MANIFEST_NAME
    atomic_write_text(path, json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
    return path


def read_manifest(out_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest in ``out_dir``, or None if there is none or it is not a tokkit shard manifest."""
    try:
        manifest = json.loads((Path(out_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == FORMAT else None
