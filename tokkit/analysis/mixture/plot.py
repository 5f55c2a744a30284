"""A bar chart of an inferred mixture: one bar per category, coloured by group, with the coverage
warning (merges found in no sample, merges no mixture explains) drawn on the figure."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from tokkit.analysis.mixture.infer import MixtureResult
from tokkit.analysis.plots import FIGURE_SUFFIXES, require_matplotlib, save_figure
from tokkit.errors import InputError

_COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray"]


def coverage_warning(result: MixtureResult) -> str:
    """One or two lines on how well the samples cover the merges; empty when every merge is explained."""
    lines = []
    if result.merges_absent:
        lines.append(f"{result.merges_absent} of {result.merges_analysed} merges occur in no sample (left out)")
    if result.merges_unexplained:
        lines.append(f"{result.merges_unexplained} of {result.merges_analysed} merges are out-counted in every "
                     "sample: no mixture of these categories explains them")
    return "\n".join(lines)


def mixture_figure(result: MixtureResult, *, groups: Mapping[str, str] | None = None, title: str | None = None):
    """The matplotlib figure: categories sorted by share, one bar each, coloured by ``groups`` (name ->
    group label; groups' totals in the legend), the coverage warning in a box."""
    plt = require_matplotlib()
    shares = result.proportions
    order = sorted(shares, key=lambda name: -shares[name])
    labels = [groups.get(name, "other") if groups else "category" for name in order]
    # colours by sorted group name, so that figures of several tokenizers colour each group alike
    palette = {label: _COLOURS[i % len(_COLOURS)] for i, label in enumerate(sorted(set(labels)))}
    figure, axes = plt.subplots(figsize=(max(6.0, 0.28 * len(order) + 2.0), 4.8), layout="constrained")
    bars = axes.bar(range(len(order)), [100 * shares[name] for name in order],
                    color=[palette[label] for label in labels])
    axes.set_xticks(range(len(order)), order, rotation=90, fontsize=8)
    axes.set_xlim(-0.6, len(order) - 0.4)
    axes.set_xlabel("category")
    axes.set_ylabel("inferred share of training bytes (%)")
    end = result.merge_start + result.merges_analysed - 1
    axes.set_title(title or f"mixture inferred from merges {result.merge_start}..{end}")
    if groups:
        totals = {label: 0.0 for label in palette}
        for name, label in zip(order, labels):
            totals[label] += shares[name]
        handles = [bars[labels.index(label)] for label in palette]
        axes.legend(handles, [f"{label}: {100 * total:.1f}%" for label, total in totals.items()], loc="upper right")
    warning = coverage_warning(result)
    if warning:
        axes.text(0.99, 0.60 if groups else 0.97, "coverage warning:\n" + warning, transform=axes.transAxes,
                  ha="right", va="top", fontsize=8, color="darkred",
                  bbox={"boxstyle": "round", "facecolor": "mistyrose", "edgecolor": "darkred"})
    return figure


def plot_mixture(
    result: MixtureResult, path: str | os.PathLike, *, groups: Mapping[str, str] | None = None, title: str | None = None
) -> Path:
    """Write :func:`mixture_figure` to ``path`` (.png or .svg) atomically."""
    if Path(path).suffix.lower() not in FIGURE_SUFFIXES:  # before any drawing
        raise InputError(f"--plot {path}: a figure is written as {' or '.join(FIGURE_SUFFIXES)}; pick one of those suffixes")
    return save_figure(mixture_figure(result, groups=groups, title=title), path)
