"""CLI glue for ``tokkit encode DIR --out-dir OUT``: one folder -> resumable parquet token shards."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from tokkit.errors import InputError


def encode_directory(inputs: list[str], tokenizer_spec: str | None, out_dir: str, *, shard_size: int,
                     workers: int, engine: str, skip_errors: bool, force: bool,
                     options: dict[str, Any] | None = None) -> None:
    """Encode the one input folder into shards with the tokenizer's encode ``options`` (e.g. --tokens);
    report skipped inputs on stderr and a summary on stdout."""
    from tokkit.pipelines.shards import encode_to_shards

    if len(inputs) != 1 or not Path(inputs[0]).is_dir():
        raise InputError("--out-dir takes exactly one input folder (tokkit encode DIR --out-dir OUT)")
    state: dict[str, Any] = {}

    def on_start(manifest: dict[str, Any], pending: list[int]) -> None:
        state["pending"] = len(pending)
        total = sum(manifest["shards"][index]["inputs"] for index in pending)
        state["bar"] = tqdm(total=total, desc="encoding", unit="file", file=sys.stderr,
                            disable=not (total and sys.stderr.isatty()))

    def on_shard(facts: dict[str, Any]) -> None:
        state["bar"].update(facts["items"] + len(facts["skipped"]))

    try:
        manifest = encode_to_shards(inputs[0], out_dir, tokenizer_spec, shard_size=shard_size, workers=workers,
                                    engine=engine, skip_errors=skip_errors, force=force, options=options,
                                    on_start=on_start, on_shard=on_shard)
    finally:
        if "bar" in state:
            state["bar"].close()
    for skipped in manifest["skipped"]:
        click.echo(f"tokkit: warning: skipped {skipped['source']}: {skipped['error']}", err=True)
    totals, shards = manifest["totals"], len(manifest["shards"])
    resumed = shards - state.get("pending", shards)
    click.echo(f"{inputs[0]} -> {out_dir}: {totals['items']} items, {totals['tokens']} tokens in {shards} shards"
               + (f" ({resumed} already done)" if resumed else "")
               + (f", {totals['skipped']} inputs skipped (listed in manifest.json)" if totals["skipped"] else ""))
