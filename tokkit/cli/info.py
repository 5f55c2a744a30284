"""``tokkit info``: what a tokenizer or a token file is."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tokkit.core.container import MAGIC, read_container
from tokkit.core.registry import load
from tokkit.core.bitpack import bits_for


def _is_token_file(path: str) -> bool:
    file = Path(path)
    if not file.is_file():
        return False
    with file.open("rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


def token_file_facts(path: str) -> dict:
    """Modality, tokenizer, counts and bitrate of a token file."""
    header, items = read_container(path)
    tokens = sum(int(item.codes.size) for item in items)
    positions = sum(len(item) for item in items)
    bits = [bits_for(item.codebook_size) for item in items]
    facts = {
        "path": path,
        "modality": header.get("modality"),
        "tokenizer": header.get("tokenizer"),
        "items": len(items),
        "tokens": tokens,
        "positions": positions,
        "codebook_size": items[0].codebook_size,
        "bits_per_token": bits[0] if len(set(bits)) == 1 else bits,
        "file_bytes": Path(path).stat().st_size,
        "payload_bytes": sum((int(i.codes.size) * b + 7) // 8 for i, b in zip(items, bits)),
    }
    source_bytes = [item.meta.get("source_bytes") for item in items]
    if all(isinstance(n, int) for n in source_bytes):
        facts["source_bytes"] = sum(source_bytes)
        facts["bytes_per_token"] = round(facts["source_bytes"] / max(tokens, 1), 3)
    durations = [item.meta.get("duration") for item in items]
    if all(isinstance(d, (int, float)) for d in durations):
        seconds = float(sum(durations))
        facts["duration_s"] = round(seconds, 3)
        facts["tokens_per_s"] = round(tokens / seconds, 2) if seconds else None
        facts["kbps"] = round(facts["payload_bytes"] * 8 / seconds / 1000, 3) if seconds else None
    return facts


@click.command()
@click.argument("path", metavar="PATH")
@click.option("--json", "as_json", is_flag=True, help="Print the facts as one JSON object.")
def info(path: str, as_json: bool) -> None:
    """Describe PATH: a token file (modality, tokenizer, token count, bits per token, source length)
    or a tokenizer (a built-in name, a saved folder, a tokenizer.json or .tiktoken file)."""
    facts = token_file_facts(path) if _is_token_file(path) else load(path).describe()
    if as_json:
        click.echo(json.dumps(facts, ensure_ascii=False))
        return
    width = max(len(key) for key in facts)
    for key, value in facts.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        click.echo(f"{key:<{width}}  {value}")
