"""``tokkit decode``: token files back to text, audio or images."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tokkit.cli.common import loader_options
from tokkit.core.atomic import check_writable
from tokkit.core.container import read_container
from tokkit.core.registry import load_for_tokens
from tokkit.core.tokens import expand_tokens
from tokkit.errors import InputError


def _item_name(meta: dict, index: int, suffix: str) -> str:
    source = Path(str(meta.get("source") or f"item{index:05d}")).stem
    return f"{index:05d}_{source}{suffix}"


@click.command()
@click.argument("token_file", metavar="TOKENS")
@click.option("-o", "--output", type=click.Path(), metavar="OUT",
              help="Output file (one item) or folder (several items). Text with one item goes to "
                   "stdout when omitted; other modalities default to TOKENS with the modality's suffix.")
@click.option("-t", "--tokenizer", "tokenizer_spec", metavar="TOKENIZER",
              help="Decode with this tokenizer instead of the one the file names (it must have the same hash).")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]),
              help="Where torch models run (audio codec): auto uses CUDA when present. Default: auto.")
def decode(token_file: str, output: str | None, tokenizer_spec: str | None, force: bool,
           device: str | None) -> None:
    """Decode a token file made by `tokkit encode`.

    The file records which tokenizer made it (name and config hash); decoding with any other
    tokenizer is refused.
    """
    header, items = read_container(token_file)
    tokenizer = load_for_tokens(header.get("tokenizer") or {}, tokenizer_spec, **loader_options(device))
    items = [expand_tokens(tokens) for tokens in items]  # e.g. dynamic merges, registered by tokkit.text
    for tokens in items:
        tokenizer.check_tokens(tokens)
    suffix = tokenizer.output_suffix

    if len(items) == 1:
        if output is None and tokenizer.modality == "text":
            data = tokenizer.decode(items[0])
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        target = output or str(Path(token_file).with_suffix(suffix))
        check_writable(target, force=force)
        tokenizer.write_decoded(tokenizer.decode(items[0]), target, force=force)
        click.echo(f"{token_file} -> {target}", err=True)
        return

    if output is None:
        raise InputError(f"{token_file} holds {len(items)} items; pass -o FOLDER to decode them")
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{output} is a file; several items need a folder")
    targets = [folder / _item_name(tokens.meta, i, suffix) for i, tokens in enumerate(items)]
    for target in targets:
        check_writable(target, force=force)
    decoded = tokenizer.decode_batch(items)
    folder.mkdir(parents=True, exist_ok=True)
    for target, item in zip(targets, decoded):
        tokenizer.write_decoded(item, target, force=force)
    click.echo(f"{token_file} -> {len(items)} files in {folder}", err=True)
