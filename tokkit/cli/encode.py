"""``tokkit encode``: files (or stdin) to token files, or to JSON on stdout."""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import click

from tokkit.cli.common import STDIN, check_input_file, choose_tokenizer, progress
from tokkit.core.atomic import check_writable
from tokkit.core.container import save_tokens
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError
from tokkit.quant.bitpack import bits_for


def _read_stdin_item(tokenizer, options: dict) -> Tokens:
    data = sys.stdin.buffer.read()
    if not data:
        raise InputError("standard input is empty: nothing to encode")
    return tokenizer.encode(data, **options)


def _encode_options(tokenizer, tokens: int | None) -> dict:
    """Options passed to the tokenizer's encode calls; --tokens needs one whose encode takes ``tokens``."""
    if tokens is None:
        return {}
    if "tokens" not in inspect.signature(tokenizer.encode_file).parameters:
        raise InputError(f"--tokens applies to tokenizers with a chosen token count (image); "
                         f"{tokenizer.name or tokenizer.kind} is a {tokenizer.modality} tokenizer")
    return {"tokens": tokens}


def _summary(source: str, target: str | None, tokens: Tokens) -> dict:
    bits = bits_for(tokens.codebook_size)
    return {
        "input": source,
        "output": target,
        "tokens": int(tokens.codes.size),
        "bits_per_token": bits,
        "payload_bytes": (int(tokens.codes.size) * bits + 7) // 8,
    }


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-t", "--tokenizer", "tokenizer_spec", metavar="TOKENIZER",
              help="Tokenizer: a built-in name (text, audio, ...), a saved folder, a tokenizer.json "
                   "or a .tiktoken file. Default: the built-in tokenizer for the inputs' kind.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), metavar="OUT",
              help="Write all items into this one token file. Default: INPUT with suffix .tok beside each input.")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the token ids as JSON on stdout (one object per input) instead of writing "
                   "token files; with -o, write the file too.")
@click.option("--tokens", "token_count", type=int, metavar="K",
              help="Image tokenizers: keep the first K tokens of each picture (1..N; fewer tokens, coarser "
                   "picture, smaller file). Default: all N.")
def encode(inputs: tuple[str, ...], tokenizer_spec: str | None, output: str | None, force: bool, as_json: bool,
           token_count: int | None) -> None:
    """Encode INPUT files (or - for standard input) into tokens.

    Every output is checked before any work and written atomically, so a failed run leaves
    no partial file. A summary line per input goes to stdout, progress to stderr.
    """
    inputs = list(inputs)
    for path in inputs:
        if path != STDIN:
            check_input_file(path)
    if inputs.count(STDIN) > 1:
        raise InputError("standard input (-) can be read only once")
    if STDIN in inputs and output is None and not as_json:
        raise InputError("encoding standard input needs -o OUT or --json")
    tokenizer = choose_tokenizer(tokenizer_spec, inputs)
    options = _encode_options(tokenizer, token_count)

    if output is not None:
        targets = [output]
    elif as_json:
        targets = []
    else:
        targets = [str(Path(path).with_suffix(".tok")) for path in inputs]
        if len(set(targets)) < len(targets):
            raise InputError("two inputs would write the same .tok file; use -o to put them in one file")
    for target in targets:
        check_writable(target, force=force)

    encoded: list[Tokens] = []
    for path in progress(inputs, len(inputs), "encoding"):
        tokens = _read_stdin_item(tokenizer, options) if path == STDIN else tokenizer.encode_file(path, **options)
        tokens.meta.setdefault("source", "<stdin>" if path == STDIN else Path(path).name)
        encoded.append(tokens)

    if output is not None:
        save_tokens(output, encoded[0] if len(encoded) == 1 else encoded)
        written = [output] * len(encoded)
    elif as_json:
        written = [None] * len(encoded)
    else:
        for target, tokens in zip(targets, encoded):
            save_tokens(target, tokens)
        written = targets

    for source, target, tokens in zip(inputs, written, encoded):
        summary = _summary(source, target, tokens)
        if as_json:
            summary["ids"] = tokens.codes.tolist()
            click.echo(json.dumps(summary, ensure_ascii=False))
        else:
            click.echo(f"{source} -> {target}: {summary['tokens']} tokens, "
                       f"{summary['bits_per_token']} bits/token, {summary['payload_bytes']} bytes")
