"""Small figures shared by the benchmarks and the reports: rate–distortion curves and grouped bars.

matplotlib is an optional dependency (``pip install 'tokkit[plots]'``), imported only when a figure is
made, always with the offscreen Agg backend. Figures are written atomically as PNG or SVG (by suffix).

    >>> from tokkit.analysis.plots import Curve, rd_plot
    >>> rd_plot([Curve("tokkit", [12, 24], [15.4, 15.5], ours=True), Curve("x264", [37, 48], [20.1, 23.3])],
    ...         "rd.png", xlabel="bytes per frame", ylabel="PSNR (dB)")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from tokkit.errors import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: file suffixes save_figure writes
FIGURE_SUFFIXES = (".png", ".svg")
_PNG_DPI = 110


@dataclass(frozen=True)
class Curve:
    """One codec or tokenizer on a rate–distortion plot: payload ``x`` (bytes, kbps, ...) against quality
    ``y``; ``ours`` marks tokkit's curves (solid, filled markers) against classic codecs (dashed, hollow);
    ``notes`` optionally label the points (e.g. "K=16"). Points with a missing or NaN value are dropped."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    ours: bool = False
    notes: Sequence[str] = field(default_factory=tuple)

    def points(self) -> list[tuple[float, float, str]]:
        """The finite (x, y, note) points, sorted by x."""
        if len(self.x) != len(self.y) or (self.notes and len(self.notes) != len(self.x)):
            raise InputError(f"curve {self.label!r} has {len(self.x)} x values, {len(self.y)} y values and "
                             f"{len(self.notes)} notes; give one of each per point")
        notes = list(self.notes) or [""] * len(self.x)
        kept = [(float(x), float(y), note) for x, y, note in zip(self.x, self.y, notes)
                if x is not None and y is not None and math.isfinite(float(x)) and math.isfinite(float(y))]
        return sorted(kept, key=lambda point: point[0])


def require_matplotlib() -> Any:
    """``matplotlib.pyplot`` on the offscreen Agg backend, or an InputError saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise InputError("plots need matplotlib, an optional extra: pip install 'tokkit[plots]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def draw_rd(axis: Any, curves: Sequence[Curve], *, xlabel: str, ylabel: str, title: str = "", logx: bool = False,
            legend: bool = True, gid_prefix: str = "") -> None:
    """Draw rate–distortion curves onto an existing matplotlib Axes (e.g. one panel of several): exactly
    one line per curve, whose ``gid`` is ``gid_prefix`` + the curve's label; labelled axes, grid, legend."""
    if not curves:
        raise InputError("a rate-distortion plot needs at least one curve")
    labels = [curve.label for curve in curves]
    if len(set(labels)) != len(labels):
        raise InputError(f"curve labels must differ, got {labels}")
    drawn = [(curve, curve.points()) for curve in curves]
    for curve, points in drawn:
        if not points:
            raise InputError(f"curve {curve.label!r} has no finite point to draw")
    classic_markers = "osD^v<>ph*"
    for index, (curve, points) in enumerate(drawn):
        xs, ys, _ = zip(*points)
        if curve.ours:
            (line,) = axis.plot(xs, ys, "-o", linewidth=2.2, markersize=6, label=curve.label, zorder=3)
        else:
            (line,) = axis.plot(xs, ys, "--", marker=classic_markers[index % len(classic_markers)], linewidth=1.4,
                                markersize=6, markerfacecolor="none", label=curve.label, zorder=2)
        line.set_gid(gid_prefix + curve.label)
        for x, y, note in points:
            if note:
                axis.annotate(note, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7,
                              color=line.get_color())
    if logx:
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        axis.set_xscale("log")
        axis.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.xaxis.set_minor_formatter(NullFormatter())
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    if title:
        axis.set_title(title, fontsize=10)
    axis.grid(True, which="both", alpha=0.3)
    if legend:
        axis.legend(fontsize=8, loc="best")


def rd_figure(curves: Sequence[Curve], *, xlabel: str, ylabel: str, title: str = "", logx: bool = False) -> Figure:
    """A one-panel rate–distortion figure (see :func:`draw_rd`). Curves without a single finite point
    are refused."""
    plt = require_matplotlib()
    figure, axis = plt.subplots(figsize=(6.4, 4.4))
    try:
        draw_rd(axis, curves, xlabel=xlabel, ylabel=ylabel, title=title, logx=logx)
    except BaseException:
        plt.close(figure)
        raise
    figure.tight_layout()
    return figure


def bar_figure(labels: Sequence[str], series: Mapping[str, Sequence[float]], *, ylabel: str,
               title: str = "") -> Figure:
    """Grouped bars: one group per label, one bar (and colour) per series, e.g. lengths "before" and
    "after"; the bars of a series share its ``gid``."""
    plt = require_matplotlib()
    if not labels or not series:
        raise InputError("a bar chart needs at least one label and one series")
    for name, values in series.items():
        if len(values) != len(labels):
            raise InputError(f"series {name!r} has {len(values)} values for {len(labels)} labels")
    figure, axis = plt.subplots(figsize=(max(4.0, 0.5 + 0.45 * len(labels) * len(series)), 3.8))
    width = 0.8 / len(series)
    for index, (name, values) in enumerate(series.items()):
        offsets = [i - 0.4 + width * (index + 0.5) for i in range(len(labels))]
        for bar in axis.bar(offsets, [float(v) for v in values], width, label=name):
            bar.set_gid(name)
    axis.set_xticks(range(len(labels)))
    axis.set_xticklabels(labels, rotation=30 if len(labels) > 4 else 0, ha="right" if len(labels) > 4 else "center",
                         fontsize=8)
    axis.set_ylabel(ylabel)
    if title:
        axis.set_title(title, fontsize=10)
    axis.grid(True, axis="y", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def figure_bytes(figure: Figure, fmt: str) -> bytes:
    """The figure encoded as ``"png"`` or ``"svg"`` (SVG text kept as text), without closing it."""
    import matplotlib

    buffer = io.BytesIO()
    # SVG text stays text (small, searchable, selectable); a fixed hash salt makes the SVG's ids reproducible
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "tokkit"}):
        figure.savefig(buffer, format=fmt, dpi=_PNG_DPI, metadata={"Software": None} if fmt == "png" else {"Date": None})
    return buffer.getvalue()


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Write the figure atomically as PNG or SVG (chosen by the suffix) and close it."""
    from tokkit.core.atomic import atomic_write_bytes

    path = Path(path)
    suffix = path.suffix.lower()
    plt = require_matplotlib()
    try:
        if suffix not in FIGURE_SUFFIXES:
            raise InputError(f"{path}: a figure is written as {' or '.join(FIGURE_SUFFIXES)}; pick one of those suffixes")
        atomic_write_bytes(path, figure_bytes(figure, suffix[1:]))
    finally:
        plt.close(figure)
    return path


def rd_plot(curves: Sequence[Curve], path: str | Path, *, xlabel: str, ylabel: str, title: str = "",
            logx: bool = False) -> Path:
    """:func:`rd_figure` written to ``path`` (.png or .svg) by :func:`save_figure`."""
    if Path(path).suffix.lower() not in FIGURE_SUFFIXES:  # before any drawing
        raise InputError(f"{path}: a figure is written as {' or '.join(FIGURE_SUFFIXES)}; pick one of those suffixes")
    return save_figure(rd_figure(curves, xlabel=xlabel, ylabel=ylabel, title=title, logx=logx), path)


def draw_mesh(axis: Any, vertices: Any, faces: Any, *, max_faces: int = 40_000) -> None:
    """Draw a shape in the unit cube onto a 3D Axes (``projection="3d"``): triangles shaded by one light
    (at most ``max_faces`` of them, a seeded sample beyond), or the points of a cloud when there are no
    faces; y up, fixed view, no axes."""
    import numpy as np
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if len(faces) > max_faces:
        faces = faces[np.random.default_rng(0).choice(len(faces), max_faces, replace=False)]
    if len(faces):
        triangles = vertices[faces][:, :, [0, 2, 1]]  # y up
        normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        shade = 0.3 + 0.7 * np.abs(normals @ np.array([0.4, -0.5, 0.77]))
        colors = np.clip(np.array([0.80, 0.83, 0.90]) * shade[:, None], 0, 1)
        axis.add_collection3d(Poly3DCollection(triangles, facecolors=colors, linewidths=0))
    elif len(vertices):
        axis.scatter(vertices[:, 0], vertices[:, 2], vertices[:, 1], s=2, c="#4a6fa5")
    axis.set_xlim(-0.5, 0.5), axis.set_ylim(-0.5, 0.5), axis.set_zlim(-0.5, 0.5)
    axis.view_init(elev=20, azim=-60)
    axis.set_axis_off()
