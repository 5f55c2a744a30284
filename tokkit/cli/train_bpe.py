"""``tokkit train-bpe``: train a byte-level BPE text tokenizer on text files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tokkit.cli.common import check_input_file


@click.command("train-bpe")
@click.argument("files", nargs=-1, required=True, metavar="FILES...")
@click.option("--vocab-size", "-v", type=click.IntRange(min=258), required=True,
              help="Tokens in the vocabulary: 256 bytes + special tokens + learned merges.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=True),
              help="Where to write: a path ending in .json gets an HF tokenizer.json; any other path "
                   "becomes a tokkit folder (config.json + tokenizer.json) that tokkit.load reads.")
@click.option("--style", type=click.Choice(["llama3", "gpt2"]), default="llama3", show_default=True,
              help="Pre-tokenizer: llama3 (regex split with digits in threes, like Llama 3) or gpt2 (GPT-2's regex).")
@click.option("--special", "special_tokens", multiple=True, default=["<|endoftext|>"], show_default=True,
              help="A special token to reserve (repeat the option for several).")
@click.option("--min-frequency", type=click.IntRange(min=1), default=2, show_default=True,
              help="Merge only pairs seen at least this often.")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
def train_bpe_command(files: tuple[str, ...], vocab_size: int, output: str, style: str,
                      special_tokens: tuple[str, ...], min_frequency: int, force: bool) -> None:
    """Train a byte-level BPE tokenizer on FILES (text; any bytes are fine) with HF's trainer.

    \b
    The result encodes any input and decodes it back byte for byte, and runs on tokkit's fast
    exact engine. Progress goes to stderr; a summary (JSON) to stdout.
    Example:
      tokkit train-bpe corpus/*.txt --vocab-size 8192 -o my-tokenizer
    """
    from tokkit.core.atomic import atomic_write_text, check_writable
    from tokkit.errors import OutputExistsError
    from tokkit.text.bpe import BPETokenizer
    from tokkit.text.train import train_bpe

    paths = [check_input_file(file) for file in files]
    target = Path(output)
    as_json = target.suffix.lower() == ".json"
    if as_json:
        check_writable(target, force=force)
    elif target.exists() and not force:
        raise OutputExistsError(f"{target} already exists (use --force to overwrite)")
    elif target.exists() and not target.is_dir():
        raise OutputExistsError(f"{target} is a file; a tokkit folder needs a folder path (or name a .json file)")
    text = train_bpe(paths, vocab_size, style=style, special_tokens=list(special_tokens),
                     min_frequency=min_frequency, progress=sys.stderr.isatty())
    tokenizer = BPETokenizer.from_tokenizer_json(text, source=str(target))
    if as_json:
        atomic_write_text(target, text)
    else:
        tokenizer.save(target)
    click.echo(json.dumps({"output": str(target), "vocab_size": tokenizer.vocab_size, "engine": tokenizer.engine,
                           "style": style, "files": len(paths),
                           "input_bytes": sum(path.stat().st_size for path in paths)}))
