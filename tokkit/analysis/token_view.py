"""Token boundaries over a text, as one self-contained HTML page (``tokkit show``).

Each token is a coloured ``<span class="tok">`` with its id in ``data-id`` and a hover ``title``; bytes
that are not whole UTF-8 characters (a character split over two tokens, or invalid input bytes) and
control characters are drawn as ``<0xE2>`` boxes. Several tokenizers are panels side by side; with
dynamic merging the merged tokens are drawn and the lengths before and after are charted per input.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from tokkit.core.tokenizer import Tokenizer
from tokkit.errors import InputError

#: hover titles show at most this many characters of a token's text
_TITLE_CHARS = 40
_PALETTE = 6  # background colours cycled over tokens (.c0 ... .c5)
_CONTROL = {chr(c) for c in range(32)} - {"\n", "\t"} | {"\x7f"}


@dataclass
class TextItem:
    """One input text: its display name, its bytes, whether they are only the start of the input (cut to
    the size cap), and the input's whole size where known."""

    name: str
    data: bytes
    truncated: bool = False
    size: int | None = None

    @property
    def words(self) -> int:
        """Whitespace-separated words."""
        return len(self.data.split())


@dataclass
class TokenRow:
    """One text under one tokenizer: the ids, each token's bytes, and (dynamic merging) what each new id
    stands for and the length before merging."""

    ids: list[int]
    pieces: list[bytes]
    merged_from: dict[int, tuple[int, ...]] = field(default_factory=dict)
    length_before: int | None = None

    @property
    def tokens(self) -> int:
        """How many tokens the row holds (after merging, when merged)."""
        return len(self.ids)


def check_text_tokenizer(tokenizer: Tokenizer, spec: str) -> None:
    """Refuse a tokenizer that does not turn text into byte-string tokens."""
    if tokenizer.modality != "text":
        article = "an" if tokenizer.modality[:1] in "aeiou" else "a"
        raise InputError(f"-t {spec} is {article} {tokenizer.modality} tokenizer; show draws text tokenizers "
                         "(a tokenizer.json, a .tiktoken file or 'text')")


def token_pieces(tokenizer: Tokenizer, ids: Sequence[int]) -> list[bytes]:
    """The bytes each token contributes to the decoded text."""
    token_bytes = getattr(tokenizer, "token_bytes", None)
    if token_bytes is not None:
        return [bytes(token_bytes(int(i))) for i in ids]
    return [bytes(tokenizer.decode([int(i)])) for i in ids]


def tokenize(tokenizer: Tokenizer, item: TextItem) -> TokenRow:
    """Encode one text (every byte as plain text, no special tokens) and look up each token's bytes."""
    ids = [int(i) for i in np.asarray(tokenizer.encode(item.data).codes).reshape(-1)]
    return TokenRow(ids, token_pieces(tokenizer, ids))


def merge_rows(tokenizer: Tokenizer, rows: list[TokenRow], max_merges: int | None) -> dict[str, Any]:
    """Dynamic merging over all of one tokenizer's rows together (in place); returns its statistics."""
    from tokkit.core.tokens import Tokens
    from tokkit.text.dynamic_merge import merge_token_items

    items = [Tokens(np.asarray(row.ids, dtype=np.int64), {}) for row in rows]
    _, result = merge_token_items(items, tokenizer, max_merges)
    base = result.base_vocab_size
    for row, sequence in zip(rows, result.sequences):
        row.length_before = row.tokens
        row.ids = [int(i) for i in sequence]
        row.pieces = [result.new_tokens[i - base].bytes if i >= base else bytes(tokenizer.token_bytes(i))
                      for i in row.ids]
        row.merged_from = {i: tuple(result.new_tokens[i - base].pieces) for i in set(row.ids) if i >= base}
    return {key: value for key, value in result.statistics().items() if key != "items"}


def row_stats(item: TextItem, row: TokenRow) -> dict[str, Any]:
    """Tokens, tokens per word and per byte (JSON-ready)."""
    n_bytes, words = len(item.data), item.words
    stats = {"bytes": n_bytes, "words": words, "tokens": row.tokens,
             "tokens_per_word": round(row.tokens / words, 4) if words else None,
             "tokens_per_byte": round(row.tokens / n_bytes, 4) if n_bytes else None,
             "bytes_per_token": round(n_bytes / row.tokens, 4) if row.tokens else None}
    if row.length_before is not None:
        stats["tokens_before_merging"] = row.length_before
    return stats


def _char_at(data: bytes, offset: int) -> str:
    """The character of ``data`` whose encoding covers byte ``offset`` ('' if that byte is not in one)."""
    start = offset
    while start > 0 and offset - start < 3 and data[start] & 0xC0 == 0x80:
        start -= 1
    for end in range(start + 1, min(start + 4, len(data)) + 1):
        try:
            text = data[start:end].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return text if end > offset else ""
    return ""


def _describe(text: str) -> str:
    shown = text if len(text) <= _TITLE_CHARS else text[:_TITLE_CHARS] + "…"
    return repr(shown)


def _token_html(index: int, token_id: int, piece: bytes, offset: int | None, source: bytes,
                merged: tuple[int, ...] | None) -> str:
    """One token's span: its text, with partial or invalid bytes and control characters as byte boxes."""
    text = piece.decode("utf-8", errors="surrogateescape")
    parts: list[str] = []
    partial: list[str] = []
    position = 0
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that is not a whole character here
            value = code - 0xDC00
            parts.append(f'<b class="byte">&lt;0x{value:02X}&gt;</b>')
            whole = _char_at(source, offset + position) if offset is not None else ""
            partial.append(f"{value:02X}" + (f" of {whole!r} U+{ord(whole):04X}" if whole else " (not UTF-8)"))
            position += 1
            continue
        width = len(char.encode("utf-8"))
        position += width
        if char in _CONTROL:
            parts.append(f'<b class="byte ctl">&lt;0x{code:02X}&gt;</b>')
        elif char == "\n":
            parts.append('<b class="nl">↵</b>\n')
        else:
            parts.append(html.escape(char, quote=False))
    title = f"id {token_id} · {len(piece)} byte{'s' if len(piece) != 1 else ''}"
    if partial:
        title += " · partial UTF-8: " + ", ".join(partial)
    else:
        title += " · " + _describe(text)
    if merged:
        title += f" · merged from {'+'.join(map(str, merged))}"
    classes = f"tok c{index % _PALETTE}" + (" partial" if partial else "") + (" merged" if merged else "")
    return (f'<span class="{classes}" data-id="{token_id}" title="{html.escape(title, quote=True)}">'
            + "".join(parts) + "</span>")


def tokens_html(item: TextItem, row: TokenRow) -> str:
    """The spans of one row; byte offsets into the input are known when the tokens' bytes spell it."""
    aligned = b"".join(row.pieces) == item.data
    out = []
    offset = 0
    for index, (token_id, piece) in enumerate(zip(row.ids, row.pieces)):
        out.append(_token_html(index, token_id, piece, offset if aligned else None, item.data,
                               row.merged_from.get(token_id)))
        offset += len(piece)
    return "".join(out)


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.2em;color:#222;background:#fff}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.6em}h3{font-size:1em;margin:.2em 0}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}
td:first-child,td:nth-child(2),th{text-align:left}
.panels{display:grid;gap:1em;align-items:start}
.panel{border:1px solid #ccc;border-radius:4px;padding:.5em;min-width:0}
.panel .stats{color:#555;font-size:.9em;margin:.2em 0 .5em}
.tokens{font:13px/1.9 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all}
.tok{border-radius:2px;padding:1px 0}
.c0{background:#fde2e2}.c1{background:#dcefff}.c2{background:#e4f6dc}.c3{background:#fff2c6}.c4{background:#eadff7}
.c5{background:#d9f3f1}
.tok:hover{outline:1px solid #333}
.byte{display:inline-block;line-height:1.2;font-weight:normal;font-size:.8em;border:1px solid #999;border-radius:2px;padding:0 1px;margin:0 1px;color:#333}
.ctl{border-style:dashed}.partial{box-shadow:inset 0 -2px #d33}.merged{box-shadow:inset 0 -2px #27a}
.nl{color:#999;font-weight:normal}.note{color:#a40}
.chart svg{max-width:100%;height:auto}
"""


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def render_page(items: Sequence[TextItem], tokenizers: Sequence[tuple[str, Tokenizer]],
                rows: Sequence[Sequence[TokenRow]], merge_stats: Sequence[dict[str, Any] | None] | None = None,
                chart_svg: str = "") -> str:
    """The whole page: a statistics table, the dynamic-merge chart if any, then per input one panel per
    tokenizer (``rows[t][i]``: tokenizer t on input i)."""
    from tokkit import __version__

    merged = merge_stats is not None and any(merge_stats)
    names = [label for label, _ in tokenizers]
    head = ["input", "tokenizer", "bytes", "words", "tokens", "tokens/word", "tokens/byte", "bytes/token"]
    if merged:
        head.insert(5, "before merging")
    table = ["<table id=\"stats\"><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for i, item in enumerate(items):
        for t, label in enumerate(names):
            stats = row_stats(item, rows[t][i])
            cells = [item.name, label, stats["bytes"], stats["words"], stats["tokens"], stats["tokens_per_word"],
                     stats["tokens_per_byte"], stats["bytes_per_token"]]
            if merged:
                cells.insert(5, stats.get("tokens_before_merging"))
            table.append("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in cells) + "</tr>")
    table.append("</tbody></table>")

    body = [f"<h1>Token boundaries: {len(items)} input{'s' if len(items) != 1 else ''}, "
            f"{len(names)} tokenizer{'s' if len(names) != 1 else ''}</h1>",
            "<p>Hover a token for its id. Bytes that are not a whole UTF-8 character in a token are boxes "
            "(<b class=\"byte\">&lt;0xE2&gt;</b>, underlined red); ↵ is a newline. Words are whitespace-separated. "
            f"Made by tokkit {html.escape(__version__)} on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.</p>",
            *table]
    if merged:
        body.append("<h2>Dynamic merging</h2><p>Token sequence lengths before and after merging the most frequent "
                    "adjacent pairs (within pre-tokens) over all inputs together; merged tokens are underlined blue "
                    "and their title lists the ids they stand for.</p><ul>")
        for label, stats in zip(names, merge_stats or []):
            if stats:
                body.append(f"<li>{html.escape(label)}: {stats['merges']} new tokens, {stats['total_before']} → "
                            f"{stats['total_after']} tokens ({100 * stats['reduction']:.1f}% shorter)</li>")
        body.append("</ul>")
        if chart_svg:
            body.append(f'<div class="chart" id="merge-chart">{chart_svg}</div>')
    columns = f"repeat({len(names)}, minmax(0, 1fr))" if len(names) <= 3 else "1fr"
    for i, item in enumerate(items):
        body.append(f'<section class="input"><h2>{html.escape(item.name)}</h2>')
        if item.truncated:
            whole = f" of {item.size}" if item.size is not None else ""
            body.append(f'<p class="note">Only the first {len(item.data)}{whole} bytes are shown (--max-bytes).</p>')
        body.append(f'<div class="panels" style="grid-template-columns:{columns}">')
        for t, label in enumerate(names):
            row = rows[t][i]
            stats = row_stats(item, row)
            note = "" if b"".join(row.pieces) == item.data else (
                '<p class="note">The tokens spell different bytes than the input (this tokenizer normalises '
                "text).</p>")
            before = f" (from {row.length_before} before merging)" if row.length_before is not None else ""
            body.append(f'<div class="panel" data-tokenizer="{html.escape(label, quote=True)}">'
                        f"<h3>{html.escape(label)}</h3><p class=\"stats\">{stats['tokens']} tokens{before} · "
                        f"{_fmt(stats['tokens_per_word'])} tokens/word · {_fmt(stats['tokens_per_byte'])} tokens/byte"
                        f"</p>{note}<div class=\"tokens\">{tokens_html(item, row)}</div></div>")
        body.append("</div></section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>tokkit show: {html.escape(', '.join(item.name for item in items))}</title>"
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def merge_chart_svg(items: Sequence[TextItem], tokenizers: Sequence[str], rows: Sequence[Sequence[TokenRow]]) -> str:
    """Inline SVG of sequence lengths before and after dynamic merging, per input (and per tokenizer)."""
    from tokkit.analysis.plots import bar_figure, figure_bytes, require_matplotlib

    labels, before, after = [], [], []
    for t, label in enumerate(tokenizers):
        for i, item in enumerate(items):
            labels.append(item.name if len(tokenizers) == 1 else f"{item.name} ({label})")
            before.append(rows[t][i].length_before)
            after.append(rows[t][i].tokens)
    figure = bar_figure(labels, {"before merging": before, "after merging": after}, ylabel="tokens",
                        title="sequence length per input")
    try:
        svg = figure_bytes(figure, "svg").decode("utf-8")
    finally:
        require_matplotlib().close(figure)
    return svg[svg.index("<svg"):]  # drop the XML prolog and doctype: inline in HTML
