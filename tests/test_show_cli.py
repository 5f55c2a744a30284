"""`tokkit show`: the HTML page of token boundaries holds one span per token with the tokenizer's ids, the
bytes of partial UTF-8 tokens, the statistics; several tokenizers side by side; dynamic merging's lengths;
bad input is one line and writes nothing."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

import tokkit
from bytelm_support import tokenizer_json

TEXT = "Hello wörld — naïve café 日本語 tokens\n\ttab line two\n"
OTHER = "the cat sat on the mat. the cats sat.\n"


class Page(HTMLParser):
    """Token spans per panel (data-tokenizer) in document order: (id, class, title, text)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.panels: list[tuple[str, list[dict]]] = []
        self.stats_rows: list[list[str]] = []
        self._span: dict | None = None
        self._cell: list[str] | None = None
        self._in_stats = False
        self.svg = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and attrs.get("class") == "panel":
            self.panels.append((attrs["data-tokenizer"], []))
        elif tag == "span" and "tok" in (attrs.get("class") or "").split():
            self._span = {"id": int(attrs["data-id"]), "class": attrs["class"], "title": attrs["title"], "text": ""}
        elif tag == "table" and attrs.get("id") == "stats":
            self._in_stats = True
        elif tag == "tr" and self._in_stats:
            self.stats_rows.append([])
        elif tag == "td" and self._in_stats:
            self._cell = []
        elif tag == "svg":
            self.svg += 1

    def handle_endtag(self, tag):
        if tag == "span" and self._span is not None:
            self.panels[-1][1].append(self._span)
            self._span = None
        elif tag == "td" and self._cell is not None:
            self.stats_rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._in_stats = False

    def handle_data(self, data):
        if self._span is not None:
            self._span["text"] += data
        if self._cell is not None:
            self._cell.append(data)


def span_bytes(text: str) -> bytes:
    """The bytes a span draws: <0xNN> boxes are bytes, the ↵ mark is dropped, the rest is UTF-8 text."""
    parts = re.split(r"<0x([0-9A-F]{2})>", text.replace("↵", ""))
    return b"".join(bytes([int(p, 16)]) if i % 2 else p.encode("utf-8") for i, p in enumerate(parts))


@pytest.fixture
def files(tmp_path):
    (tmp_path / "tokenizer.json").write_text(tokenizer_json("gpt2"), encoding="utf-8")
    (tmp_path / "a.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "b.txt").write_text(OTHER, encoding="utf-8")
    return tmp_path


def test_one_span_per_token_with_ids_titles_and_partial_bytes(files, run_cli):
    out = files / "tokens.html"
    code, stdout, err = run_cli("show", files / "a.txt", "-t", files / "tokenizer.json", "-o", out)
    assert code == 0, err
    page = Page(out.read_text(encoding="utf-8"))
    assert len(page.panels) == 1 and page.panels[0][0] == f"{files.name}/tokenizer.json"
    spans = page.panels[0][1]
    tokenizer = tokkit.load(files / "tokenizer.json")
    ids = tokenizer.encode(TEXT.encode()).codes.tolist()
    assert [s["id"] for s in spans] == ids
    assert all(s["title"].startswith(f"id {s['id']} · ") for s in spans)
    # the tiny tokenizer splits é (C3 A9) into two byte tokens: each is a partial box naming the character
    partial = [s for s in spans if "partial" in s["class"]]
    assert partial, "no partial UTF-8 token drawn"
    assert any(s["text"] == "<0xC3>" and "C3 of 'é' U+00E9" in s["title"] for s in partial)
    # each span draws exactly its token's bytes: text as text, boxes as bytes, ↵ before a newline
    assert [span_bytes(s["text"]) for s in spans] == [tokenizer.token_bytes(i) for i in ids]
    assert b"".join(span_bytes(s["text"]) for s in spans) == TEXT.encode()
    assert stdout.decode().startswith(f"a.txt [{files.name}/tokenizer.json]: {len(ids)} tokens")


def test_several_tokenizers_side_by_side_with_statistics(files, run_cli):
    out = files / "tokens.html"
    code, stdout, err = run_cli("show", files / "a.txt", files / "b.txt", "-t", files / "tokenizer.json", "-t", "text",
                                "-o", out, "--json")
    assert code == 0, err
    rows = [json.loads(line) for line in stdout.decode().splitlines()]
    page = Page(out.read_text(encoding="utf-8"))
    tiny = f"{files.name}/tokenizer.json"
    assert [label for label, _ in page.panels] == [tiny, "text", tiny, "text"]
    for (label, spans), name in zip(page.panels, ["a.txt", "a.txt", "b.txt", "b.txt"]):
        data = (files / name).read_bytes()
        tokenizer = tokkit.load(files / "tokenizer.json" if label == tiny else "text")
        assert [s["id"] for s in spans] == tokenizer.encode(data).codes.tolist()
        row = next(r for r in rows if r["input"] == name and r["tokenizer"] == label)
        assert row["tokens"] == len(spans) and row["bytes"] == len(data) and row["words"] == len(data.split())
        assert row["tokens_per_byte"] == round(len(spans) / len(data), 4)
        assert row["tokens_per_word"] == round(len(spans) / len(data.split()), 4)
        assert [name, label, str(len(data)), str(len(data.split())), str(len(spans))] in [r[:5] for r in page.stats_rows]
    a_tiny, a_text = (next(r["tokens"] for r in rows if r["input"] == "a.txt" and r["tokenizer"] == t)
                      for t in (tiny, "text"))
    assert a_tiny > a_text  # the 300-token toy vocabulary needs more tokens than the shipped default


def test_dynamic_merges_lengths_match_encode(files, run_cli):
    out = files / "merged.html"
    tok = files / "tokenizer.json"
    code, stdout, err = run_cli("show", files / "a.txt", files / "b.txt", "-t", tok, "--dynamic-merges", "all",
                                "-o", out, "--json")
    assert code == 0, err
    shown = [json.loads(line) for line in stdout.decode().splitlines()]
    code, encoded, err = run_cli("encode", files / "a.txt", files / "b.txt", "-t", tok, "--dynamic-merges", "all", "--json")
    assert code == 0, err
    expected = [json.loads(line) for line in encoded.decode().splitlines()][:2]
    assert [(r["tokens_before_merging"], r["tokens"]) for r in shown] == \
           [(r["tokens_before_merging"], r["tokens"]) for r in expected]
    assert all(r["tokens"] < r["tokens_before_merging"] for r in shown)
    page = Page(out.read_text(encoding="utf-8"))
    assert page.svg == 1  # the before/after chart, inline
    spans = [s for _, panel in page.panels for s in panel]
    assert [s["id"] for s in spans] == [i for r in expected for i in r["ids"]]
    merged = [s for s in spans if "merged" in s["class"]]
    assert merged and all("merged from " in s["title"] for s in merged)


def test_truncate_cuts_at_a_character_boundary(files, run_cli):
    (files / "long.txt").write_text("é" * 1000, encoding="utf-8")  # 2000 bytes
    out = files / "t.html"
    code, _, err = run_cli("show", files / "long.txt", "--max-bytes", "1001", "-o", out)
    assert code != 0 and "more than --max-bytes 1001" in err and not out.exists()
    code, stdout, err = run_cli("show", files / "long.txt", "--max-bytes", "1001", "--truncate", "-o", out, "--json")
    assert code == 0, err
    assert json.loads(stdout)["bytes"] == 1000  # the lead byte of the 501st é is left out
    assert "Only the first 1000 of 2000 bytes are shown" in out.read_text(encoding="utf-8")
    code, stdout, err = run_cli("show", files / "long.txt", "--max-bytes", "1000", "--truncate", "-o", out, "--force",
                                "--json")
    assert code == 0, err
    assert json.loads(stdout)["bytes"] == 1000  # ends on a whole é: nothing cut


def test_standard_input(files, run_cli):
    out = files / "stdin.html"
    code, stdout, err = run_cli("show", "-", "-o", out, "--json", stdin=TEXT.encode())
    assert code == 0, err
    row = json.loads(stdout)
    assert row["input"] == "<stdin>" and row["bytes"] == len(TEXT.encode())
    assert row["tokens"] == len(tokkit.load("text").encode(TEXT.encode()).codes)
    code, _, err = run_cli("show", "-", "--max-bytes", "10", "-o", files / "x.html", stdin=TEXT.encode())
    assert code != 0 and "<stdin> holds more than --max-bytes 10" in err
    code, stdout, err = run_cli("show", "-", "--max-bytes", "10", "--truncate", "-o", files / "x.html", "--json",
                                stdin=TEXT.encode())
    assert code == 0, err
    assert json.loads(stdout)["bytes"] == 10
    assert "Only the first 10 bytes are shown" in (files / "x.html").read_text(encoding="utf-8")
    code, _, err = run_cli("show", "-", "-", "-o", files / "y.html", stdin=b"x")
    assert code != 0 and "only once" in err


@pytest.mark.parametrize("args, message", [
    (["bin.dat"], "bin.dat is not UTF-8 text"),
    (["a.txt", "-t", "image"], "-t image is an image tokenizer; show draws text tokenizers"),
    (["a.txt", "-t", "nosuch"], "no tokenizer at nosuch"),
    (["empty.txt"], "empty.txt is empty"),
    (["a.txt", "--dynamic-merges", "lots"], "--dynamic-merges takes a number"),
])
def test_bad_input_is_one_line_and_writes_nothing(files, run_cli, monkeypatch, args, message):
    monkeypatch.chdir(files)
    (files / "bin.dat").write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)))
    (files / "empty.txt").write_bytes(b"")
    code, stdout, err = run_cli("show", *args, "-o", "out.html")
    assert code != 0 and stdout == b""
    assert err.startswith("tokkit: error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not (files / "out.html").exists()
    assert not [p.name for p in files.iterdir() if p.name.startswith(".")]


def test_existing_output_needs_force_and_suffix_is_html(files, run_cli):
    out = files / "tokens.html"
    out.write_text("keep me")
    code, _, err = run_cli("show", files / "a.txt", "-o", out)
    assert code != 0 and "already exists (use --force" in err and out.read_text() == "keep me"
    code, _, err = run_cli("show", files / "a.txt", "-o", out, "--force")
    assert code == 0, err
    assert out.read_text().startswith("<!DOCTYPE html>")
    code, _, err = run_cli("show", files / "a.txt", "-o", files / "tokens.png")
    assert code != 0 and "name it *.html" in err


def test_page_renders_in_headless_chromium(files, run_cli, tmp_path):
    """The page in a real browser: every token is a visible span with its id and title, partial bytes are
    boxes, the tokenizers' panels sit side by side, the merge chart is drawn; a screenshot is saved."""
    from browser_helpers import Browser, chromium_or_skip

    binary = chromium_or_skip()
    out = files / "merged.html"
    tiny = files / "tokenizer.json"
    code, _, err = run_cli("show", files / "a.txt", files / "b.txt", "-t", tiny, "-t", "text",
                           "--dynamic-merges", "3", "-o", out)
    assert code == 0, err
    expected = [[int(i) for i in span_ids] for span_ids in
                ([s["id"] for s in panel] for _, panel in Page(out.read_text(encoding="utf-8")).panels)]
    with Browser(binary, tmp_path) as browser:
        browser.open(out)
        found = browser.evaluate("""[...document.querySelectorAll('.panel')].map(panel => {
            const spans = [...panel.querySelectorAll('span.tok')];
            const box = panel.getBoundingClientRect();
            return {ids: spans.map(s => Number(s.dataset.id)),
                    titled: spans.every(s => s.title.startsWith('id ' + s.dataset.id + ' ')),
                    visible: spans.filter(s => s.getClientRects().length > 0).length,
                    boxes: panel.querySelectorAll('.partial .byte').length,
                    left: box.left, top: box.top};
        })""")
        chart = browser.evaluate("""(() => { const svg = document.querySelector('#merge-chart svg');
            return svg ? [svg.getBoundingClientRect().width, svg.querySelectorAll('path, rect, use').length] : null; })()""")
        shot = browser.screenshot(tmp_path / "show.png")
    assert [panel["ids"] for panel in found] == expected
    assert all(panel["titled"] and panel["visible"] == len(panel["ids"]) > 0 for panel in found)
    assert found[0]["boxes"] > 0  # the toy tokenizer splits é and — into byte tokens
    assert found[0]["top"] == found[1]["top"] and found[0]["left"] < found[1]["left"]  # side by side
    assert chart is not None and chart[0] > 100 and chart[1] > 10
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    assert image.size[0] >= 1000 and len(np.unique(pixels, axis=0)) > 50  # coloured tokens, text, the chart
