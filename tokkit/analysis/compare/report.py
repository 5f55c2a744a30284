"""The report of a comparison: results.json, the rate-distortion plot (rd.png, rd.svg) and index.html, one
self-contained page (inline SVG plot, previews as data: URIs, a table that sorts by any column), every
file written atomically."""

from __future__ import annotations

import base64
import html
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from tokkit.analysis.compare.systems import RATES, metrics, preview
from tokkit.core.atomic import atomic_write_bytes, atomic_write_text


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def curves(comparison: Any, key: str) -> dict[str, list[tuple[float, float]]]:
    """System label -> [(mean rate, mean ``key``)] over inputs, one point per budget (tokenizers) or per
    target rank (classic codecs: the n-th smallest target of each input), sorted by rate."""
    groups: dict[tuple[str, Any], list[tuple[float, float]]] = defaultdict(list)
    ranks: dict[str, list[int]] = defaultdict(list)
    for cell in comparison.cells:
        if cell["kind"] == "classic":
            ranks[cell["input"]].append(cell["budget_value"])
    for cell in comparison.cells:
        if not _finite(cell.get(key)) or not _finite(cell.get("rate")):
            continue
        slot = cell["budget"] if cell["kind"] == "tokenizer" else sorted(set(ranks[cell["input"]])).index(cell["budget_value"])
        groups[(cell["system"], slot)].append((cell["rate"], cell[key]))
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for (system, _), points in groups.items():
        out[system].append((float(np.mean([p[0] for p in points])), float(np.mean([p[1] for p in points]))))
    order = [s.label for s in comparison.tokenizers] + list(comparison.classic)
    return {system: sorted(set(out[system])) for system in order if out.get(system)}


def rd_figure(comparison: Any) -> Any:
    """A matplotlib Figure: one panel per metric, quality against rate (log x), one line per tokenizer
    and per classic codec (:func:`tokkit.analysis.plots.draw_rd`); each line's gid is ``rd-METRIC-SYSTEM``."""
    from matplotlib.figure import Figure

    from tokkit.analysis.plots import Curve, draw_rd, require_matplotlib

    require_matplotlib()
    shown = metrics(comparison.modality)
    figure = Figure(figsize=(4.6 * len(shown), 3.8), dpi=100)
    rate_label = RATES[comparison.modality][0]
    for index, (key, label, higher) in enumerate(shown):
        axis = figure.add_subplot(1, len(shown), index + 1)
        ylabel = label + ("" if higher else " (lower is better)")
        found = curves(comparison, key)
        if not found:  # e.g. SSIM of pictures smaller than its window: nothing to draw
            axis.set_xlabel(rate_label)
            axis.set_ylabel(ylabel)
            axis.text(0.5, 0.5, "no data", ha="center", va="center", transform=axis.transAxes)
            continue
        draw_rd(axis, [Curve(system, [x for x, _ in points], [y for _, y in points],
                             ours=system not in comparison.classic) for system, points in found.items()],
                xlabel=rate_label, ylabel=ylabel, logx=True, legend=index == 0, gid_prefix=f"rd-{key}-")
    inputs = len(comparison.inputs)
    figure.suptitle(f"tokkit compare: {comparison.modality}, mean over {inputs} input{'s' * (inputs != 1)}", fontsize=10)
    figure.tight_layout()
    return figure


def write_report(comparison: Any, out: Path, store: Any) -> None:
    """Write results.json, rd.png, rd.svg and index.html into ``out`` (each atomically)."""
    from tokkit.analysis.compare.run import results_json

    from tokkit.analysis.plots import figure_bytes

    results = results_json(comparison)
    figure = rd_figure(comparison)
    svg = figure_bytes(figure, "svg")
    atomic_write_text(out / "results.json", json.dumps(results, indent=1, default=str) + "\n")
    atomic_write_bytes(out / "rd.png", figure_bytes(figure, "png"))
    atomic_write_bytes(out / "rd.svg", svg)
    atomic_write_text(out / "index.html", page(comparison, results, svg, store))


# -- the page ------------------------------------------------------------------------------------------------
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f0f0f0;cursor:pointer;user-select:none}th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"}td.t,th.t{text-align:left}
.grid td{vertical-align:top;text-align:center;min-width:9em}.grid figure{margin:0}.grid figcaption{font-size:12px}
.grid img{max-width:260px;image-rendering:pixelated}.grid audio{width:220px}
.best{outline:3px solid #2a9d4a}.note{color:#8a5a00}.plot svg{max-width:100%;height:auto}
"""

SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function(th, column) {
  th.addEventListener('click', function() {
    var table = th.closest('table'), body = table.tBodies[0];
    var ascending = th.getAttribute('aria-sort') !== 'ascending';
    table.querySelectorAll('th').forEach(function(other) { other.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
    var numeric = th.dataset.type === 'num';
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function(a, b) {
      var x = a.cells[column].dataset.value, y = b.cells[column].dataset.value;
      if (numeric) { x = x === '' ? Infinity : parseFloat(x); y = y === '' ? Infinity : parseFloat(y); }
      var order = x < y ? -1 : x > y ? 1 : 0;
      return ascending ? order : -order;
    });
    rows.forEach(function(row) { body.appendChild(row); });
  });
});
"""


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _media(data: bytes, mime: str, alt: str) -> str:
    uri = _data_uri(data, mime)
    if mime.startswith("audio/"):
        return f'<audio controls preload="auto" src="{uri}" title="{html.escape(alt)}"></audio>'
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _fmt(value: Any) -> str:
    if not _finite(value):
        return "" if value is None else html.escape(str(value))
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if value == 0 or abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def _table(comparison: Any, shown: list) -> str:
    rate = RATES[comparison.modality][0]
    with_rate = rate != "bytes"  # shapes: the rate is the byte count itself
    columns = [("input", "t"), ("system", "t"), ("budget", "t"), ("bytes", "num")] + ([(rate, "num")] if with_rate else [])
    columns += [(label, "num") for _, label, _ in shown] + [("encode ms", "num"), ("decode ms", "num"), ("setting", "t")]
    head = "".join(f'<th data-type="{kind}"{" class=t" if kind == "t" else ""}>{html.escape(name)}</th>' for name, kind in columns)
    rows = []
    for cell in comparison.cells:
        if "bytes" not in cell:
            continue
        values = [(cell["input"], "t"), (cell["system"], "t"), (cell["budget"], "t"), (cell["bytes"], "num")]
        values += [(cell.get("rate"), "num")] if with_rate else []
        values += [(cell.get(key), "num") for key, _, _ in shown]
        values += [(1000 * cell["encode_s"] if _finite(cell.get("encode_s")) else None, "num"), (1000 * cell["decode_s"] if _finite(cell.get("decode_s")) else None, "num"),
                   (cell.get("setting", ""), "t")]
        tds = []
        for value, kind in values:
            if kind == "num":
                sort = f"{float(value):.9g}" if _finite(value) else ""
                tds.append(f'<td data-value="{sort}">{_fmt(value)}</td>')
            else:
                tds.append(f'<td class=t data-value="{html.escape(str(value))}">{html.escape(str(value))}</td>')
        rows.append("<tr>" + "".join(tds) + "</tr>")
    return (f'<table id="results" class="sortable"><thead><tr>{head}</tr></thead><tbody>'
            + "\n".join(rows) + "</tbody></table>")


def _grid(comparison: Any, item: Any, store: Any, shown: list) -> str:
    """One input: the original, then a row per system with its result at each target byte count."""
    key, label, higher = shown[0]
    cells = [c for c in comparison.cells if c["input"] == item.label]
    targets = sorted({int(c["bytes"]) for c in cells if c["kind"] == "tokenizer"}
                     | {int(c["budget_value"]) for c in cells if c["kind"] == "classic"})
    best: dict[int, float] = {}
    placed: dict[tuple[str, int], dict] = {}
    for cell in cells:
        column = int(cell["bytes"]) if cell["kind"] == "tokenizer" else int(cell["budget_value"])
        placed[(cell["system"], column)] = cell
        value = cell.get(key)
        if _finite(value) and (column not in best or (value > best[column] if higher else value < best[column])):
            best[column] = value
    original, mime = preview(comparison.modality, item.reference)
    facts = ", ".join(f"{k} {_fmt(v)}" for k, v in item.facts.items())
    parts = [f'<h2 id="input-{html.escape(item.label)}">{html.escape(item.label)}</h2>',
             f'<figure>{_media(original, mime, "original " + item.label)}<figcaption>original ({html.escape(facts)})'
             f'</figcaption></figure>',
             '<table class="grid"><thead><tr><th class=t>system</th>'
             + "".join(f"<th>&le; {t} B</th>" for t in targets) + "</tr></thead><tbody>"]
    systems = [s.label for s in comparison.tokenizers] + list(comparison.classic)
    for system in systems:
        row = [f"<td class=t>{html.escape(system)}</td>"]
        if not any(s == system for s, _ in placed):
            continue
        shown_at: dict[tuple[float, str], int] = {}  # a classic setting chosen for several targets is shown once
        for target in targets:
            cell = placed.get((system, target))
            if cell is None or "preview" not in cell:
                row.append("<td class=note>" + ("cannot fit" if cell is not None else "") + "</td>")
                continue
            caption = f"{cell['budget']}: {int(cell['bytes'])} B, {label} {_fmt(cell.get(key))}"
            mark = ' class="best"' if _finite(cell.get(key)) and cell.get(key) == best.get(target) else ""
            same = (cell["bytes"], cell.get("setting", ""))
            if cell["kind"] == "classic" and same in shown_at:
                row.append(f"<td{mark}><figcaption>{html.escape(caption)}: the same file as at &le; "
                           f"{shown_at[same]} B</figcaption></td>")
                continue
            shown_at[same] = target
            data = store.read(cell["preview"]["file"])
            row.append(f"<td{mark}><figure>{_media(data, cell['preview']['mime'], system + ' ' + caption)}"
                       f"<figcaption>{html.escape(caption)}</figcaption></figure></td>")
        parts.append("<tr>" + "".join(row) + "</tr>")
    parts.append("</tbody></table>")
    return "\n".join(parts)


def page(comparison: Any, results: dict, svg: bytes, store: Any) -> str:
    """The whole index.html."""
    shown = metrics(comparison.modality)
    svg_text = svg.decode("utf-8")
    svg_text = svg_text[svg_text.index("<svg"):]
    names = ", ".join(html.escape(i.label) for i in comparison.inputs)
    systems = ", ".join(html.escape(s.label) + f" ({s.hash})" for s in comparison.tokenizers)
    classic = ", ".join(html.escape(c) for c, note in comparison.classic.items() if note is None) or "none"
    notes = "".join(f"<li class=note>{html.escape(n)}</li>" for n in comparison.notes)
    key, label, _ = shown[0]
    summary = (f"<p>{len(comparison.inputs)} {comparison.modality} input(s): {names}. Tokenizers: {systems}. Classic "
               f"codecs: {classic}. Quality against payload bytes (tokenizers: packed codes; classic: whole "
               f"files or streams). In each input's grid a column holds every system within that many bytes; "
               f"the best {html.escape(label)} of a column is outlined. Created {results['created']} with "
               f"tokkit {results['versions']['tokkit']}; {comparison.computed} cells computed, "
               f"{comparison.reused} reused.</p>")
    body = [f"<h1>tokkit compare: {comparison.modality}</h1>", summary,
            f'<section class="plot">{svg_text}</section>',
            f"<ul>{notes}</ul>" if notes else "",
            "<h2>All figures (click a column to sort)</h2>", _table(comparison, shown)]
    body += [_grid(comparison, item, store, shown) for item in comparison.inputs]
    return ("<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
            f"<title>tokkit compare: {comparison.modality}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(body) + f"\n<script>{SCRIPT}</script>\n</body></html>\n")
