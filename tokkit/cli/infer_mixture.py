"""``tokkit infer-mixture``: estimate which categories a BPE tokenizer was trained on, and how much."""

from __future__ import annotations

import json

import click

from tokkit.cli.common import ByteSize
from tokkit.errors import InputError, OutputExistsError


@click.command("infer-mixture")
@click.argument("tokenizer")
@click.option("--category", "categories", multiple=True, metavar="NAME=PATH",
              help="A candidate category and its sample text: a file, a folder (read recursively) or a glob. "
                   "Repeat for every category (at least two).")
@click.option("--merges", "merges", type=click.IntRange(min=1), default=3000, show_default=True,
              help="How many merges to analyse (T), counted from --merge-start.")
@click.option("--merge-start", type=click.IntRange(min=0), default=0, show_default=True,
              help="Index of the first merge to analyse; earlier merges are applied to the samples first "
                   "(e.g. 100000 for Llama 3, whose first 100,000 merges are GPT-3.5's).")
@click.option("--bytes-per-category", type=ByteSize(), default="5MB", show_default=True,
              help="Read at most this many bytes of each category's files (a fixed shuffled file order); "
                   "5000000, 5e6, 5MB and 500k all work.")
@click.option("--pattern", default=None, metavar="REGEX",
              help="Pre-tokenizer regex of a .tiktoken rank file that is not a known encoding (as tokkit.load's pattern=).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"proportions": {NAME: share}, ...} with solver statistics instead of a table.')
@click.option("--plot", "plot", default=None, metavar="FILE",
              help="Also write a bar chart of the shares, with the coverage warning drawn on it "
                   "(.png or .svg; needs matplotlib: pip install 'tokkit[plots]').")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing --plot file.")
def infer_mixture(
    tokenizer: str, categories: tuple[str, ...], merges: int, merge_start: int, bytes_per_category: int,
    pattern: str | None, as_json: bool, plot: str | None, force: bool,
) -> None:
    """Estimate the byte share of each --category in TOKENIZER's training data.

    TOKENIZER is any BPE text tokenizer tokkit reads (an HF tokenizer.json, a .tiktoken rank file, a
    saved tokkit folder, a built-in name such as "text") or a GPT-2 merges.txt.
    The method (Hayase et al., 2024) replays the merge list on each category's sample and solves a
    linear program for the mixture under which every merge was the most frequent pair. Categories
    should together cover the training data; proportions are shares of the listed categories only.
    On stderr it counts the merges found in no sample and those that no mixture of the samples
    explains: many of either mean the categories miss part of the training data.

    \b
    Example:
      tokkit infer-mixture cl100k_base.tiktoken --category en=docs/en --category code='src/**/*.py' --plot mix.png
    """
    from pathlib import Path

    from tokkit.analysis.mixture import infer_mixture as run
    from tokkit.analysis.mixture.corpus import parse_category

    if not categories:
        raise InputError("give at least two --category NAME=PATH options")
    named: dict[str, str] = {}
    for spec in categories:
        name, path = parse_category(spec)
        if name in named:
            raise InputError(f"category {name!r} is given twice; category names must be unique")
        named[name] = path
    if len(named) < 2:
        raise InputError("mixture inference needs at least two categories (--category NAME=PATH, repeated)")
    if plot is not None:
        from tokkit.analysis.plots import FIGURE_SUFFIXES, require_matplotlib

        if Path(plot).suffix.lower() not in FIGURE_SUFFIXES:
            raise InputError(f"--plot {plot}: a figure is written as {' or '.join(FIGURE_SUFFIXES)}; "
                             "pick one of those suffixes")
        if Path(plot).exists() and not force:
            raise OutputExistsError(f"--plot {plot} exists; pass --force to overwrite it")
        require_matplotlib()  # a missing matplotlib fails now, not after the run
    result = run(tokenizer, named, merges=merges, merge_start=merge_start,
                 bytes_per_category=bytes_per_category, progress=True,
                 **({"pattern": pattern} if pattern else {}))
    if plot is not None:
        from tokkit.analysis.mixture.plot import plot_mixture

        plot_mixture(result, plot)
        click.echo(f"plot written to {plot}", err=True)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    width = max(len(name) for name in result.proportions)
    click.echo(f"{'category':<{width}}  share    sample")
    for name, share in sorted(result.proportions.items(), key=lambda item: -item[1]):
        click.echo(f"{name:<{width}}  {share:6.2%}  {result.sample_bytes[name] / 1e6:6.2f} MB")
    s = result.solver
    click.echo(
        f"merges {result.merge_start}..{result.merge_start + result.merges_analysed - 1}, slack {s.slack_total:.3g}, "
        f"{s.binding_rows} binding of {s.constraints} constraints added in {s.rounds} rounds, "
        f"{sum(result.seconds.values()):.1f} s"
    )
    if result.merges_absent:
        click.echo(f"{result.merges_absent} of the {result.merges_analysed} merges occur in no sample and were left "
                   "out: part of the training data is in none of the categories", err=True)
    if result.merges_unexplained:
        click.echo(f"{result.merges_unexplained} of the {result.merges_analysed} merges are out-counted by another pair "
                   "in every category: no mixture of these samples explains them", err=True)
