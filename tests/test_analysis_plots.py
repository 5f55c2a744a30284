"""tokkit.analysis.plots: rate–distortion and bar figures have the content they claim (axes, one line per
curve, the points given), are written atomically as PNG or SVG, and bad calls are one-line InputErrors."""

from __future__ import annotations

import builtins
import re

import numpy as np
import pytest
from PIL import Image

from tokkit.analysis import plots
from tokkit.analysis.plots import Curve, bar_figure, rd_figure, rd_plot
from tokkit.errors import InputError

CURVES = [Curve("tokkit image", [2, 6, 12, 24, 48], [14.0, 14.9, 15.6, 16.4, 17.1], ours=True,
                notes=["K=1", "K=4", "K=8", "K=16", "K=32"]),
          Curve("WebP", [60, 96, 192, float("nan")], [17.0, 19.5, 22.4, 30.0]),
          Curve("JPEG", [300, 400], [18.1, 20.3])]


def test_rd_figure_has_labelled_axes_and_one_line_per_curve():
    import matplotlib.pyplot as plt

    figure = rd_figure(CURVES, xlabel="payload bytes", ylabel="PSNR (dB)", title="held-out photos", logx=True)
    try:
        axis = figure.axes[0]
        assert axis.get_xlabel() == "payload bytes" and axis.get_ylabel() == "PSNR (dB)"
        assert axis.get_title() == "held-out photos" and axis.get_xscale() == "log"
        lines = axis.get_lines()
        assert [line.get_gid() for line in lines] == ["tokkit image", "WebP", "JPEG"]
        assert [t.get_text() for t in axis.get_legend().get_texts()] == ["tokkit image", "WebP", "JPEG"]
        webp = lines[1]
        assert list(webp.get_xdata()) == [60, 96, 192]  # the NaN point is dropped, not drawn at 0
        assert lines[0].get_linestyle() == "-" and webp.get_linestyle() == "--"
        assert "K=16" in [t.get_text() for t in axis.texts]
    finally:
        plt.close(figure)


def test_png_and_svg_written_with_content(tmp_path):
    png = rd_plot(CURVES, tmp_path / "rd.png", xlabel="bytes", ylabel="PSNR (dB)")
    with Image.open(png) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape[0] > 300 and pixels.shape[1] > 500
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # lines, text and colours, not a blank canvas
    svg = rd_plot(CURVES, tmp_path / "rd.svg", xlabel="bytes", ylabel="PSNR (dB)").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for label in ("tokkit image", "WebP", "JPEG"):
        assert svg.count(f'<g id="{label}">') == 1  # one line per curve
        assert f">{label}</text>" in svg  # and its legend entry, as text
    assert ">bytes</text>" in svg and ">PSNR (dB)</text>" in svg
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_bar_figure_groups_series():
    import matplotlib.pyplot as plt

    figure = bar_figure(["a.txt", "b.txt", "c.txt"], {"before": [10, 20, 30], "after": [7, 15, 21]},
                        ylabel="tokens", title="dynamic merging")
    try:
        axis = figure.axes[0]
        assert axis.get_ylabel() == "tokens"
        heights = [round(p.get_height()) for p in axis.patches]
        assert heights == [10, 20, 30, 7, 15, 21]
        assert [t.get_text() for t in axis.get_xticklabels()] == ["a.txt", "b.txt", "c.txt"]
    finally:
        plt.close(figure)


@pytest.mark.parametrize("call, message", [
    (lambda p: rd_plot(CURVES, p / "rd.jpg", xlabel="x", ylabel="y"), ".png or .svg"),
    (lambda p: rd_plot([], p / "rd.png", xlabel="x", ylabel="y"), "at least one curve"),
    (lambda p: rd_plot([Curve("a", [1], [1]), Curve("a", [2], [2])], p / "rd.png", xlabel="x", ylabel="y"), "must differ"),
    (lambda p: rd_plot([Curve("a", [1, 2], [1])], p / "rd.png", xlabel="x", ylabel="y"), "one of each per point"),
    (lambda p: rd_plot([Curve("a", [float("nan")], [1])], p / "rd.png", xlabel="x", ylabel="y"), "no finite point"),
    (lambda p: bar_figure(["a"], {"n": [1, 2]}, ylabel="y"), "2 values for 1 labels"),
])
def test_bad_calls_are_input_errors(tmp_path, call, message):
    with pytest.raises(InputError, match=re.escape(message)):
        call(tmp_path)
    assert not list(tmp_path.iterdir())


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(InputError, match=re.escape("pip install 'tokkit[plots]'")):
        plots.require_matplotlib()


def test_draw_rd_fills_panels_of_a_larger_figure():
    plt = plots.require_matplotlib()
    figure, (left, right) = plt.subplots(1, 2)
    try:
        plots.draw_rd(left, CURVES[:2], xlabel="bytes", ylabel="PSNR (dB)", gid_prefix="rd-psnr-")
        plots.draw_rd(right, CURVES[1:], xlabel="bytes", ylabel="SSIM", legend=False, gid_prefix="rd-ssim-")
        assert [line.get_gid() for line in left.get_lines()] == ["rd-psnr-tokkit image", "rd-psnr-WebP"]
        assert [line.get_gid() for line in right.get_lines()] == ["rd-ssim-WebP", "rd-ssim-JPEG"]
        assert right.get_legend() is None and right.get_ylabel() == "SSIM"
        svg = plots.figure_bytes(figure, "svg").decode()
        assert svg == plots.figure_bytes(figure, "svg").decode()  # reproducible ids
        assert '<g id="rd-ssim-JPEG">' in svg
    finally:
        plt.close(figure)
