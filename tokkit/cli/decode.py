"""``tokkit decode``: token files back to text, audio, images or video."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click

from tokkit.cli.common import loader_options
from tokkit.core.atomic import check_writable
from tokkit.core.container import read_container
from tokkit.core.registry import check_identity, load_for_tokens
from tokkit.core.tokens import check_expansion, expand_tokens
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
              help="Decode with this tokenizer (it must have the hash the file records). Needed unless the file "
                   "names a built-in tokenizer: a path named inside a token file is never loaded unconfirmed.")
@click.option("--trust-tokenizer", "trust", is_flag=True,
              help="Decode even if the file records no tokenizer hash or another one (you vouch that the "
                   "tokenizer made these tokens); codes and metadata are still checked.")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]),
              help="Where torch models run (audio codec): auto uses CUDA when present. Default: auto.")
@click.option("--resolution", type=int, metavar="R",
              help="Shape tokenizers: marching-cubes grid size (8..512; finer surface, slower). Default: 64.")
def decode(token_file: str, output: str | None, tokenizer_spec: str | None, trust: bool, force: bool,
           device: str | None, resolution: int | None) -> None:
    """Decode a token file made by `tokkit encode`.

    The file records which tokenizer made it (name and config hash); decoding with any other
    tokenizer, or tokens without a hash, is refused unless you pass --trust-tokenizer. A tokenizer the
    file names by path is loaded only when you confirm it with -t.
    """
    header, items = read_container(token_file)
    for tokens in items:  # transforms (dynamic merges) are checked and sized before anything is loaded or expanded
        check_expansion(tokens)
    tokenizer = load_for_tokens(header.get("tokenizer") or {}, tokenizer_spec, trust=trust, **loader_options(device))
    items = [expand_tokens(tokens) for tokens in check_identity(items, tokenizer, trust=trust)]
    for tokens in items:
        tokenizer.check_tokens(tokens)
    suffix = tokenizer.output_suffix
    if resolution is not None:
        if "resolution" not in inspect.signature(tokenizer.decode).parameters:
            raise InputError(f"--resolution applies to shape tokenizers; {tokenizer.name or tokenizer.kind} "
                             f"is a {tokenizer.modality} tokenizer")
        from tokkit.codecs.shape.tokenizer import check_resolution

        tokenizer.resolution = check_resolution(resolution)

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
