"""The mixture bar chart: one bar per category sorted by share, axes labelled, groups in the legend, the
coverage warning drawn; written atomically by the library and by ``tokkit infer-mixture --plot``."""

from __future__ import annotations

import pytest

from tests.mixture_synthetic import ALPHABETS, category_text
from tokkit.analysis.mixture.controlled import train_mixture_tokenizer
from tokkit.analysis.mixture.infer import MixtureResult
from tokkit.analysis.mixture.lp import LpSolution
from tokkit.analysis.mixture.plot import coverage_warning, mixture_figure, plot_mixture
from tokkit.cli.main import main
from tokkit.errors import InputError


def _result(absent: int = 0, unexplained: int = 0) -> MixtureResult:
    shares = {"python": 0.5, "en": 0.3, "de": 0.15, "ja": 0.05}
    solver = LpSolution.__new__(LpSolution)  # the figure reads no solver field
    return MixtureResult(shares, shares, 3000, absent, unexplained, 0, {k: 1000 for k in shares}, solver)


def _close(figure) -> None:
    import matplotlib.pyplot as plt

    plt.close(figure)


def _texts(figure) -> list[str]:
    return [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]


def test_one_bar_per_category_sorted_with_labelled_axes():
    groups = {"python": "code", "en": "English", "de": "other languages", "ja": "other languages"}
    figure = mixture_figure(_result(), groups=groups, title="t")
    axes = figure.axes[0]
    heights = [bar.get_height() for bar in axes.patches if bar.get_width() < 1.0]
    assert heights == pytest.approx([50.0, 30.0, 15.0, 5.0])
    assert [t.get_text() for t in axes.get_xticklabels()] == ["python", "en", "de", "ja"]
    assert axes.get_xlabel() == "category" and "share" in axes.get_ylabel()
    legend = [t.get_text() for t in axes.get_legend().get_texts()]
    assert legend == ["English: 30.0%", "code: 50.0%", "other languages: 20.0%"]  # groups in sorted order
    colours = {bar.get_facecolor() for bar in axes.patches[2:4]}
    assert len(colours) == 1 and axes.patches[0].get_facecolor() != axes.patches[1].get_facecolor()
    assert not any("coverage warning" in text for text in _texts(figure))
    _close(figure)


def test_coverage_warning_is_drawn():
    figure = mixture_figure(_result(absent=798, unexplained=12))
    drawn = "\n".join(_texts(figure))
    assert "coverage warning" in drawn and "798 of 3000 merges occur in no sample" in drawn
    assert "12 of 3000 merges are out-counted" in drawn
    assert coverage_warning(_result()) == ""
    _close(figure)


def test_plot_file_and_bad_suffix(tmp_path):
    plot_mixture(_result(absent=3), tmp_path / "m.png")
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plot_mixture(_result(), tmp_path / "m.svg")
    assert b"<svg" in (tmp_path / "m.svg").read_bytes()[:2000]
    with pytest.raises(InputError, match=r"\.png or \.svg"):
        plot_mixture(_result(), tmp_path / "m.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.png", "m.svg"]  # nothing half-written


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_cli_plot(tmp_path, capsys):
    for name in ("ab", "cd"):
        (tmp_path / f"{name}.txt").write_text(category_text(ALPHABETS[name], 2000, 1), encoding="utf-8")
    texts = [(tmp_path / "ab.txt").read_text(), (tmp_path / "cd.txt").read_text()]
    tokenizer = train_mixture_tokenizer(texts, 100, tmp_path / "tokenizer.json")
    argv = ["infer-mixture", str(tokenizer), "--category", f"ab={tmp_path / 'ab.txt'}",
            "--category", f"cd={tmp_path / 'cd.txt'}", "--merges", "80"]
    code, out, err = _run([*argv, "--plot", str(tmp_path / "mix.png")], capsys)
    assert code == 0 and out.startswith("category") and "plot written" in err
    assert (tmp_path / "mix.png").read_bytes()[:4] == b"\x89PNG"
    code, out, err = _run([*argv, "--plot", str(tmp_path / "mix.png")], capsys)
    assert code != 0 and "exists; pass --force" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run([*argv, "--plot", str(tmp_path / "mix.png"), "--force"], capsys)
    assert code == 0
    code, out, err = _run([*argv, "--plot", str(tmp_path / "mix.jpg")], capsys)
    assert code != 0 and out == "" and err.startswith("tokkit: error: ") and ".png or .svg" in err
