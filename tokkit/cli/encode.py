"""``tokkit encode``: files (or stdin) to token files, or to JSON on stdout."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tokkit.cli.common import (STDIN, TokenizerOptionsCommand, check_input_file, check_tokenizer_options,
                               choose_tokenizer, loader_options, progress)
from tokkit.core.atomic import check_writable
from tokkit.core.bitpack import bits_for
from tokkit.core.container import save_tokens
from tokkit.core.formats import modality_of_bytes
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError


def _read_stdin_item(tokenizer, options: dict, named: bool) -> Tokens:
    data = sys.stdin.buffer.read()
    if not data:
        raise InputError("standard input is empty: nothing to encode")
    if not named:  # the default (text) tokenizer reads standard input only when it is text
        kind = modality_of_bytes(data)
        if kind != "text":
            raise InputError(f"standard input holds {kind or 'binary'} data, not text; name the tokenizer with -t "
                             f"({kind or 'text'} to encode it{'' if kind else ' as raw bytes'})")
    return tokenizer.encode(data, **options)


def _summary(source: str, target: str | None, tokens: Tokens) -> dict:
    bits = bits_for(tokens.codebook_size)
    return {
        "input": source,
        "output": target,
        "tokens": int(tokens.codes.size),
        "bits_per_token": bits,
        "payload_bytes": (int(tokens.codes.size) * bits + 7) // 8,
    }


@click.command(cls=TokenizerOptionsCommand)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-t", "--tokenizer", "tokenizer_spec", metavar="TOKENIZER",
              help="Tokenizer: a built-in name (text, audio, ...), a saved folder, a tokenizer.json "
                   "or a .tiktoken file. Default: the built-in tokenizer for the inputs' kind.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), metavar="OUT",
              help="Write all items into this one token file. Default: INPUT with suffix .tok beside each input.")
@click.option("-f", "--force", is_flag=True,
              help="Overwrite existing output files (with --out-dir: discard the shard job there and start over).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the token ids as JSON on stdout (one object per input) instead of writing "
                   "token files; with -o, write the file too.")
@click.option("--dynamic-merges", "dynamic_merges", metavar="N",
              help="Text only: shorten the token sequences of all INPUTs together by merging their N most "
                   "frequent adjacent token pairs within pre-tokens into new ids (or 'all': until every "
                   "pre-token is one token). The files keep the merge table, so decode restores the bytes; "
                   "lengths before and after are printed per input and in total.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]),
              help="Where torch models run (audio codec): auto uses CUDA when present. Default: auto.")
@click.option("--out-dir", type=click.Path(file_okay=False), metavar="OUT",
              help="Encode the one INPUT folder (all its files, recursively, sorted by path) into parquet "
                   "shards plus OUT/manifest.json. Rerunning the same command resumes, skipping finished shards.")
@click.option("--shard-size", type=click.IntRange(min=1), metavar="N",
              help="Input files per shard (with --out-dir; default 1000).")
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="Worker processes (with --out-dir; default 1). Each keeps to its share of the cores.")
@click.option("--engine", type=click.Choice(["local", "ray", "datasets"]),
              help="local: processes on this machine (default); ray: a Ray Data actor pool (pip install "
                   "'tokkit[ray]'), joining a running cluster or starting a local one; datasets: HF "
                   "datasets.map(num_proc=N). Same shards byte for byte whichever engine.")
@click.option("--skip-errors", is_flag=True,
              help="With --out-dir: leave out inputs that cannot be read or encoded (each is reported and "
                   "listed in the manifest) instead of stopping at the first one.")
def encode(inputs: tuple[str, ...], tokenizer_spec: str | None, output: str | None, force: bool, as_json: bool,
           dynamic_merges: str | None, device: str | None, out_dir: str | None, shard_size: int | None,
           workers: int | None, engine: str | None, skip_errors: bool, **tokenizer_options: object) -> None:
    """Encode INPUT files (or - for standard input) into tokens, or a folder into shards (--out-dir).

    Every output is checked before any work and written atomically, so a failed run leaves
    no partial file. A summary line per input goes to stdout, progress to stderr. The flags after
    --skip-errors are the encode options the tokenizers declare; each applies to its modality only.

    \b
    Folder mode:  tokkit encode corpus/ --out-dir shards/ --workers 2
    """
    inputs = list(inputs)
    if out_dir is not None:
        if output is not None or as_json:
            raise InputError("--out-dir writes shards; it cannot be combined with -o or --json")
        unsupported = [name for name, value in (("--dynamic-merges", dynamic_merges), ("--device", device))
                       if value is not None]
        if unsupported:
            raise InputError(f"{', '.join(unsupported)} cannot be combined with --out-dir (folder mode) yet")
        from tokkit.cli.encode_shards import encode_directory

        encode_directory(inputs, tokenizer_spec, out_dir, shard_size=shard_size or 1000, workers=workers or 1,
                         engine=engine or "local", skip_errors=skip_errors, force=force,
                         options={name: value for name, value in tokenizer_options.items() if value is not None})
        return
    used = [name for name, value in (("--shard-size", shard_size), ("--workers", workers), ("--engine", engine),
                                     ("--skip-errors", skip_errors)) if value]
    if used:
        raise InputError(f"{', '.join(used)} only work with --out-dir OUT (encoding a folder into shards)")
    for path in inputs:
        if Path(path).is_dir():
            raise InputError(f"{path} is a folder; encode it into shards with --out-dir OUT")
    for path in inputs:
        if path != STDIN:
            check_input_file(path)
    if inputs.count(STDIN) > 1:
        raise InputError("standard input (-) can be read only once")
    if STDIN in inputs and output is None and not as_json:
        raise InputError("encoding standard input needs -o OUT or --json")
    max_merges = _parse_merges(dynamic_merges)
    tokenizer = choose_tokenizer(tokenizer_spec, inputs, **loader_options(device))
    options = check_tokenizer_options(tokenizer, tokenizer_options)

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
        tokens = _read_stdin_item(tokenizer, options, bool(tokenizer_spec)) if path == STDIN else tokenizer.encode_file(path, **options)
        tokens.meta.setdefault("source", "<stdin>" if path == STDIN else Path(path).name)
        encoded.append(tokens)
    lengths_before = None
    if dynamic_merges is not None:
        from tokkit.text.dynamic_merge import merge_token_items

        encoded, merge_result = merge_token_items(encoded, tokenizer, max_merges)
        lengths_before = merge_result.lengths_before.tolist()

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
        if lengths_before is not None:
            summary["tokens_before_merging"] = lengths_before.pop(0)
        if as_json:
            summary["ids"] = tokens.codes.tolist()
            click.echo(json.dumps(summary, ensure_ascii=False))
        else:
            merged = (f" (from {summary['tokens_before_merging']} before merging)"
                      if "tokens_before_merging" in summary else "")
            click.echo(f"{source} -> {target}: {summary['tokens']} tokens{merged}, "
                       f"{summary['bits_per_token']} bits/token, {summary['payload_bytes']} bytes")
    if dynamic_merges is not None:
        stats = {key: value for key, value in merge_result.statistics().items() if key != "items"}
        if as_json:
            click.echo(json.dumps({"dynamic_merges": stats}))
        else:
            click.echo(f"dynamic merges: {stats['merges']} new tokens, {stats['total_before']} -> "
                       f"{stats['total_after']} tokens in total ({100 * stats['reduction']:.1f}% shorter)")


def _parse_merges(value: str | None) -> int | None:
    """--dynamic-merges: a count >= 0, or 'all' (None: merge to saturation)."""
    if value is None or value.strip().lower() == "all":
        return None
    try:
        count = int(value)
    except ValueError:
        raise InputError(f"--dynamic-merges takes a number of merges or 'all', not {value!r}") from None
    if count < 0:
        raise InputError(f"--dynamic-merges must be >= 0, got {count}")
    return count
