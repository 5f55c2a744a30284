"""``tokkit show``: token boundaries of text files under one or more text tokenizers, as an HTML page."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tokkit.cli.common import STDIN, ByteSize, check_input_file
from tokkit.core.atomic import check_writable
from tokkit.errors import InputError

DEFAULT_MAX_BYTES = 256_000


def _read_text(path: str, max_bytes: int, truncate: bool):
    """The file's (or standard input's, for ``-``) bytes, at most ``max_bytes`` (with ``truncate``: the
    start of a longer input, cut at a character boundary), refused unless it is UTF-8 text."""
    import sys

    from tokkit.analysis.token_view import TextItem
    from tokkit.core.formats import looks_like_text

    if path == STDIN:
        name = "<stdin>"
        data = sys.stdin.buffer.read(max_bytes + 1)
        if not data:
            raise InputError("standard input is empty: nothing to show")
        size = len(data) if len(data) <= max_bytes else None  # unknown beyond the cap
        data = data[:max_bytes]
    else:
        file = check_input_file(path)
        name, size = file.name, file.stat().st_size
        with open(file, "rb") as handle:
            data = handle.read(max_bytes)
    cut = size is None or size > len(data)
    if cut and not truncate:
        what = f"{name} holds more than" if size is None else f"{name} is {size} bytes, more than"
        raise InputError(f"{what} --max-bytes {max_bytes}; raise --max-bytes, or pass --truncate to show only its start")
    if cut:  # do not end inside a UTF-8 character
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason == "unexpected end of data":
                data = data[:exc.start]
    if not looks_like_text(data, complete=True):
        raise InputError(f"{name} is not UTF-8 text (binary data or another encoding); show draws text files")
    return TextItem(name, data, truncated=cut, size=size)


def _label(spec: str, taken: set[str]) -> str:
    """A short, unique panel title for a -t value."""
    path = Path(spec)
    label = path.name if path.exists() else spec
    if label == "tokenizer.json":  # the folder says which one
        label = f"{path.resolve().parent.name}/{label}"
    if not label or label in taken:
        label = spec
    taken.add(label)
    return label


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="FILE...")
@click.option("-t", "--tokenizer", "specs", multiple=True, metavar="TOKENIZER",
              help="A text tokenizer: a tokenizer.json, a .tiktoken file, a saved folder or 'text' (the default). "
                   "Repeat -t to compare tokenizers side by side.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), metavar="OUT.html",
              help="The HTML page to write (self-contained: opens offline in any browser).")
@click.option("-f", "--force", is_flag=True, help="Overwrite OUT.html if it exists.")
@click.option("--max-bytes", type=ByteSize(), default=DEFAULT_MAX_BYTES, show_default=True, metavar="N",
              help="The most bytes read from each FILE (e.g. 500k, 2MB); a larger file is refused unless "
                   "--truncate is given. The page holds one element per token, so very large inputs make "
                   "pages browsers render slowly.")
@click.option("--truncate", is_flag=True, help="Show the first --max-bytes of a larger FILE instead of refusing it.")
@click.option("--dynamic-merges", "dynamic_merges", metavar="N",
              help="Also merge the N most frequent adjacent token pairs within pre-tokens over all FILEs together "
                   "(or 'all': until every pre-token is one token), as `tokkit encode --dynamic-merges` does; the "
                   "page draws the merged tokens and charts each FILE's length before and after (needs matplotlib: "
                   "pip install 'tokkit[plots]').")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON lines instead of text.")
def show(inputs: tuple[str, ...], specs: tuple[str, ...], output: str, force: bool, max_bytes: int, truncate: bool,
         dynamic_merges: str | None, as_json: bool) -> None:
    """Draw the token boundaries of text FILEs (- for standard input) as an HTML page: tokens coloured, ids
    on hover, bytes of partial UTF-8 characters as <0xE2> boxes, tokens per word and per byte; one panel
    per -t.

    \b
    Examples:
      tokkit show notes.txt -o tokens.html
      tokkit show notes.txt -t tokenizer.json -t cl100k_base.tiktoken -o tokens.html
      tokkit show a.txt b.txt -t tokenizer.json --dynamic-merges all -o merged.html
      git log -50 | tokkit show - -t tokenizer.json -o log.html
    """
    from tokkit.analysis.token_view import (check_text_tokenizer, merge_chart_svg, merge_rows, render_page,
                                            row_stats, tokenize)
    from tokkit.cli.encode import _parse_merges
    from tokkit.core.atomic import atomic_write_text
    from tokkit.core.registry import load

    if not output.lower().endswith((".html", ".htm")):
        raise InputError(f"-o {output}: show writes an HTML page; name it *.html")
    check_writable(output, force=force)
    max_merges = _parse_merges(dynamic_merges)
    if dynamic_merges is not None:
        from tokkit.analysis.plots import require_matplotlib

        require_matplotlib()
    if inputs.count(STDIN) > 1:
        raise InputError("standard input (-) can be read only once")
    items = [_read_text(path, max_bytes, truncate) for path in inputs]
    taken: set[str] = set()
    tokenizers = []
    for spec in specs or ("text",):
        tokenizer = load(spec)
        check_text_tokenizer(tokenizer, spec)
        tokenizers.append((_label(spec, taken), tokenizer))
    rows = [[tokenize(tokenizer, item) for item in items] for _, tokenizer in tokenizers]
    merge_stats = None
    chart = ""
    if dynamic_merges is not None:
        merge_stats = [merge_rows(tokenizer, per_input, max_merges) for (_, tokenizer), per_input in zip(tokenizers, rows)]
        chart = merge_chart_svg(items, [label for label, _ in tokenizers], rows)
    atomic_write_text(output, render_page(items, tokenizers, rows, merge_stats, chart))
    for t, (label, _) in enumerate(tokenizers):
        for i, item in enumerate(items):
            stats = row_stats(item, rows[t][i])
            if as_json:
                click.echo(json.dumps({"input": item.name, "tokenizer": label, **stats}, ensure_ascii=False))
            else:
                before = (f" (from {stats['tokens_before_merging']} before merging)"
                          if "tokens_before_merging" in stats else "")
                per_word = f"{stats['tokens_per_word']:.3f}" if stats["tokens_per_word"] is not None else "-"
                click.echo(f"{item.name} [{label}]: {stats['tokens']} tokens{before}, {per_word} tokens/word, "
                           f"{stats['tokens_per_byte']:.3f} tokens/byte")
    click.echo(f"wrote {output}", err=True)
