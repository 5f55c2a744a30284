"""The benchmarks' --plot figures: the image benchmark end to end on one synthetic photo (its SVG holds one
line per codec with the points it measured, and labelled axes), and each benchmark's curves built from its
own result rows (one curve per codec; classic points only where every input fits the budget)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))


def svg_lines(svg: str) -> dict[str, int]:
    """Curve label -> number of points of the line drawn in its group (matplotlib writes gid as the id)."""
    lines = {}
    for label, body in re.findall(r'<g id="([^"]+)">\s*<path (?:clip-path="[^"]*" )?d="([^"]*)"', svg):
        if not re.fullmatch(r"(patch|line2d|text|xtick|ytick|legend|axes|figure)_\d+|matplotlib\.axis_\d", label):
            lines[label] = len(re.findall(r"[ML]", body))
    return lines


def test_image_benchmark_plot_end_to_end(tmp_path):
    y, x = np.mgrid[0:96, 0:96]
    picture = np.stack([x * 2.5, y * 2.5, 128 + 60 * np.sin(x / 7) * np.cos(y / 9)], -1)
    picture += np.random.default_rng(0).normal(0, 8, picture.shape)
    (tmp_path / "photos").mkdir()
    Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8)).save(tmp_path / "photos" / "p.png")
    figure = tmp_path / "rd.svg"
    result = subprocess.run([sys.executable, str(BENCHMARKS / "image_quality.py"), "--data", str(tmp_path / "photos"),
                             "--crops", "1", "--tokens", "1,4", "--json", "--plot", str(figure),
                             "--plot-budgets", "128,256,512"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    svg = figure.read_text()
    lines = svg_lines(svg)
    codecs = ["JPEG", "WebP"] + (["AVIF"] if features.check("avif") else [])
    assert set(lines) == {"tokkit image (64x64)", *codecs}
    assert lines["tokkit image (64x64)"] == len(rows) == 2
    for codec in codecs:  # at most the three plot budgets (2 and 6 bytes fit no classic file)
        assert 1 <= lines[codec] <= 3
    assert ">PSNR (dB)</text>" in svg and ">payload bytes per picture (log scale)</text>" in svg
    assert ">K=4</text>" in svg


def test_audio_curves_one_per_codec_family():
    import audio_quality

    rows = {"tokkit 0.8 kbps": {"kbps": 0.8, "stoi": 0.74}, "codec2 700C": {"kbps": 0.8, "stoi": 0.75},
            "codec2 1200": {"kbps": 1.2, "stoi": 0.80}, "opus 6k": {"kbps": 7.6, "stoi": 0.90},
            "opus 8k": {"kbps": 9.5, "stoi": 0.95}}
    curves = audio_quality.rd_curves(rows, "tokkit audio")
    assert [(c.label, c.ours, list(c.x), list(c.y)) for c in curves] == [
        ("tokkit audio", True, [0.8], [0.74]), ("Codec2", False, [0.8, 1.2], [0.75, 0.80]),
        ("Opus", False, [7.6, 9.5], [0.90, 0.95])]
    assert list(curves[1].notes) == ["700C", "1200"]
    several = {"tokkit #1 0.8 kbps": {"kbps": 0.8, "stoi": 0.74}, "tokkit #1 3.2 kbps": {"kbps": 3.2, "stoi": 0.80},
               "tokkit #2 0.8 kbps": {"kbps": 0.8, "stoi": 0.71}, "codec2 1200": {"kbps": 1.2, "stoi": 0.80}}
    curves = audio_quality.rd_curves(several, ["audio", "runs/old"])
    assert [(c.label, c.ours, list(c.x)) for c in curves] == [
        ("tokkit audio", True, [0.8, 3.2]), ("tokkit runs/old", True, [0.8]), ("Codec2", False, [1.2])]
    assert list(curves[0].notes) == ["0.8 kbps", "3.2 kbps"]


def test_video_curves_keep_budgets_every_clip_fits():
    import video_quality

    ours = {"a": {8: {"psnr": 15.0}, 16: {"psnr": 16.0}}, "b": {8: {"psnr": 17.0}, 16: {"psnr": 18.0}}}
    alone = {"a": {8: {"psnr": 14.0}}, "b": {8: {"psnr": 16.0}}}
    settings = {"x264": {"a": [{"bytes": 30.0, "psnr": 20.0}, {"bytes": 90.0, "psnr": 28.0}],
                         "b": [{"bytes": 40.0, "psnr": 22.0}]},
                "VP9": {"a": [{"bytes": 500.0, "psnr": 30.0}], "b": [{"bytes": 20.0, "psnr": 25.0}]}}
    curves = video_quality.rd_curves(ours, alone, settings, bits=12, ks=[8, 16], model="video")
    labels = [c.label for c in curves]
    assert labels == ["tokkit video", "tokkit image, each frame alone", "x264"]  # VP9 never fits clip a
    assert list(curves[0].x) == [12, 24] and list(curves[0].y) == [16.0, 17.0]
    x264 = curves[2]
    assert x264.x[0] == 48 and x264.y[0] == 21.0  # 36 B fits clip a (30 B) but not b (40 B)
    assert x264.y[list(x264.x).index(96)] == 25.0


def test_shape_curves_and_best_classic():
    import shape_quality

    def scores(f):
        return {"f@0.02": f, "chamfer_l1": 0.01}

    rows = [{"tokkit": {"shape": {64: {"bytes": 112, "f@0.02": 0.1}, 128: {"bytes": 208, "f@0.02": 0.3}},
                        "runs/new": {64: {"bytes": 112, "f@0.02": 0.3}, 128: {"bytes": 208, "f@0.02": 0.4}}},
             "classic": {"draco": {256: scores(0.5), 512: scores(0.9)}, "points": {256: scores(0.6), 512: None}}},
            {"tokkit": {"shape": {64: {"bytes": 112, "f@0.02": 0.2}, 128: {"bytes": 208, "f@0.02": 0.5}},
                        "runs/new": {64: {"bytes": 112, "f@0.02": 0.5}, 128: {"bytes": 208, "f@0.02": 0.6}}},
             "classic": {"draco": {256: None, 512: scores(0.7)}, "points": {256: scores(0.2), 512: scores(0.4)}}},
            {"tokkit": {"shape": {64: {"bytes": 112, "f@0.02": 0.9}, 128: {"bytes": 208, "f@0.02": 0.9}},
                        "runs/new": {64: {"bytes": 112, "f@0.02": 0.9}, 128: {"bytes": 208, "f@0.02": 0.9}}},
             "classic": {}}]  # no cached anchors: left out of the classic curves
    curves = shape_quality.rd_curves(rows, [64, 128], [256, 512], ["shape", "runs/new"])
    by_label = {c.label: c for c in curves}
    assert list(by_label) == ["tokkit shape", "tokkit new", "draco", "points", "best classic"]
    assert list(by_label["tokkit shape"].y) == pytest.approx([0.4, 1.7 / 3])
    assert list(by_label["tokkit new"].y) == pytest.approx([1.7 / 3, 1.9 / 3])
    assert list(by_label["draco"].x) == [512] and by_label["draco"].y[0] == pytest.approx(0.8)
    assert list(by_label["points"].x) == [256] and by_label["points"].y[0] == pytest.approx(0.4)
    assert list(by_label["best classic"].y) == pytest.approx([0.4, 0.8])  # max per shape, then mean


def test_the_classic_shape_oracle_scores_every_candidate_that_fits():
    """A smaller file can score better (a coarser mesh with more Draco bits): the benchmark's search
    (top=None) finds it; only candidates within the budget are scored, each once across budgets."""
    from tokkit.analysis.classic.shape import best_within

    class Reference:
        calls = 0

        def score(self, vertices, faces):
            Reference.calls += 1
            f = float(vertices[0, 0])

            class Scores:
                def as_dict(self):
                    return {"f@0.02": f, "chamfer_l1": 1 - f}
            return Scores()

    candidates = [(size, np.array([[f, 0.0, 0.0]]), np.zeros((0, 3))) for size, f in
                  [(500, 0.6), (400, 0.7), (300, 0.95), (200, 0.5), (700, 0.99)]]
    cache: dict = {}
    assert best_within(candidates, 512, Reference(), cache)["bytes"] == 300
    assert best_within(candidates, 512, Reference(), {}, top=1)["f@0.02"] == 0.6  # the largest only
    assert best_within(candidates, 256, Reference(), cache)["f@0.02"] == 0.5
    assert Reference.calls == 4 + 1  # 700 B never scored; the 200 B candidate scored once for both budgets
    assert best_within(candidates, 100, Reference(), cache) is None
