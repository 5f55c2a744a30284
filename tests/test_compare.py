"""``tokkit compare``: reports for audio, image, video and 3D inputs with tiny tokenizers (saved folders, as a
user's trained tokenizer would be), classic codecs, resumable cells, bad input, the plot's content and the
page in a real browser (headless Chromium)."""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from tokkit.analysis.classic import audio as classic_audio
from tokkit.core.bitpack import bits_for

from audio_helpers import speechlike
from audio_helpers import tiny_tokenizer as tiny_audio
from browser_helpers import Browser, chromium_or_skip
from cli_helpers import one_error_line
from image_helpers import picture
from image_helpers import tiny_tokenizer as tiny_image
from shape_helpers import box_mesh, write_obj
from shape_helpers import tiny_tokenizer as tiny_shape
from video_helpers import clip
from video_helpers import tiny_tokenizer as tiny_video

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Tiny inputs of every modality and tiny saved tokenizers."""
    from tokkit.codecs.audio.published.tokenizer import PublishedCodecTokenizer
    from tokkit.codecs.video.io import write_video

    root = tmp_path_factory.mktemp("compare")
    sf.write(root / "speech.wav", speechlike(1.0, 16000), 16000, subtype="PCM_16")
    sf.write(root / "other.wav", speechlike(0.6, 8000, seed=1), 8000, subtype="PCM_16")
    Image.fromarray(picture(24, 36)).save(root / "picture.png")
    Image.fromarray(picture(30, 30, seed=2)).save(root / "second.png")
    frames = clip(frames=6, height=24, width=32)
    write_video(iter(frames), root / "clip.mp4", 16.0, 32, 24)
    write_obj(root / "box.obj", *box_mesh())
    (root / "notes.txt").write_text("plain text\n")
    tokenizers = {"audio": tiny_audio(), "encodec": PublishedCodecTokenizer.example_tokenizer(),
                  "image": tiny_image(), "video": tiny_video(), "shape": tiny_shape()}
    out = {}
    for name, tokenizer in tokenizers.items():
        tokenizer.save(root / f"tok-{name}")
        out[f"tok-{name}"] = root / f"tok-{name}"
    out.update({p.stem: p for p in root.iterdir() if p.is_file()})
    out["root"] = root
    return out


def _results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


@pytest.fixture(scope="module")
def audio_report(files, tmp_path_factory) -> Path:
    """Two audio tokenizers (one with codebook budgets) on two clips, with the classic codecs."""
    from tokkit.cli.main import main

    out = tmp_path_factory.mktemp("audio") / "report"
    main(["compare", str(files["speech"]), str(files["other"]), "-t", str(files["tok-audio"]),
          "-t", str(files["tok-encodec"]), "--classic", "-o", str(out)])  # a failure exits: the fixture errors
    return out


def test_audio_report_has_every_cell_figure_and_identity(audio_report, files):
    import tokkit

    results = _results(audio_report)
    assert results["modality"] == "audio" and results["rate"] == "kbps"
    assert {m["key"] for m in results["metrics"]} == {"stoi", "mel", "si_sdr"}
    assert {"tokkit", "python", "numpy", "torch", "pystoi"} <= set(results["versions"])
    by_label = {t["label"]: t for t in results["tokenizers"]}
    assert by_label["tok-audio"]["hash"] == tokkit.load(files["tok-audio"]).identity["hash"]
    encodec = by_label["tok-encodec"]
    assert encodec["option"] == "codebooks" and encodec["budgets"] == [1, 2, 4]
    cells = [c for c in results["cells"] if c["kind"] == "tokenizer"]
    assert len(cells) == 2 * (1 + 3)
    for cell in cells:
        assert all(math.isfinite(cell[k]) for k in ("stoi", "mel", "si_sdr", "encode_s", "decode_s", "rate"))
        assert -1 <= cell["stoi"] <= 1  # a correlation (untrained tokenizers score near 0)
    encodec_cells = {c["budget"]: c for c in cells if c["system"] == "tok-encodec" and c["input"] == "speech.wav"}
    frames = math.ceil(24000 / 320)  # 1 s at the tiny EnCodec's 24 kHz, hop 320
    for q in (1, 2, 4):
        assert encodec_cells[f"{q} codebooks"]["bytes"] == math.ceil(q * frames * bits_for(16) / 8)
    assert encodec_cells["1 codebooks"]["bytes"] < encodec_cells["4 codebooks"]["bytes"]
    assert encodec_cells["4 codebooks"]["rate"] == pytest.approx(8 * encodec_cells["4 codebooks"]["bytes"] / 1000, rel=1e-6)
    notes = results["notes"]
    for codec, note in classic_audio.available().items():
        classic = [c for c in results["cells"] if c["system"] == codec]
        if note is None:  # runs here: fitted to every tokenizer payload and to 2..16 times the largest
            fitted = [c for c in classic if c["fits"]]
            assert fitted and all(c["bytes"] <= c["budget_value"] for c in fitted)
            assert all(math.isfinite(c["stoi"]) for c in fitted)
        else:
            assert not classic and any(note in n for n in notes)


def test_rerun_reuses_every_cell_and_gives_the_same_figures(audio_report, files, run_cli):
    before = _results(audio_report)
    code, out, err = run_cli("compare", files["speech"], files["other"], "-t", files["tok-audio"],
                             "-t", files["tok-encodec"], "--classic", "-o", audio_report)
    assert code == 0, err
    after = _results(audio_report)
    assert after["cells_computed"] == 0 and after["cells_reused"] == before["cells_computed"] + before["cells_reused"]
    strip = lambda cells: [{k: v for k, v in c.items() if k != "reused"} for c in cells]  # noqa: E731
    assert strip(after["cells"]) == strip(before["cells"])
    assert b"0 cells computed" in out


def test_plot_has_labelled_axes_and_one_curve_per_system(audio_report):
    svg = (audio_report / "rd.svg").read_text()
    results = _results(audio_report)
    systems = {c["system"] for c in results["cells"] if "bytes" in c}
    for metric in ("stoi", "mel", "si_sdr"):
        curves = set(re.findall(rf'<g id="rd-{metric}-([^"]+)"', svg))
        assert curves == systems
    for label in ("kbps", "STOI", "mel distance (lower is better)", "SI-SDR (dB)", "tok-encodec"):
        assert f">{label}<" in svg or f"> {label}<" in svg or label in svg
    png = (audio_report / "rd.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 800 and height > 300


def test_plot_figure_objects(files, tmp_path):
    from tokkit.analysis.compare.inputs import Limits
    from tokkit.analysis.compare.report import rd_figure
    from tokkit.analysis.compare.run import run_comparison

    comparison = run_comparison([files["picture"], files["second"]], [str(files["tok-image"])], tmp_path / "r",
                                classic=True, budgets=[2, 4, 8], limits=Limits(side=64), progress=False)
    figure = rd_figure(comparison)
    axes = figure.axes
    assert [a.get_ylabel() for a in axes] == ["PSNR (dB)", "SSIM"]
    assert all(a.get_xlabel() == "bits per pixel" and a.get_xscale() == "log" for a in axes)
    expected = {"tok-image"} | {c for c, note in comparison.classic.items() if note is None
                               and any(cell["system"] == c and cell.get("fits") for cell in comparison.cells)}
    for axis in axes:
        labels = [line.get_label() for line in axis.get_lines()]
        assert sorted(labels) == sorted(expected)
    tokenizer_line = next(line for line in axes[0].get_lines() if line.get_label() == "tok-image")
    assert len(tokenizer_line.get_xdata()) == 3  # one point per budget, mean over the two pictures
    cells = [c for c in comparison.cells if c["system"] == "tok-image" and c["budget"] == "K=4"]
    assert len(cells) == 2
    assert any(abs(y - np.mean([c["psnr"] for c in cells])) < 1e-9 for y in tokenizer_line.get_ydata())


@pytest.mark.parametrize("modality", ["video", "shape"])
def test_video_and_shape_reports(files, tmp_path, run_cli, modality):
    source = files["clip"] if modality == "video" else files["box"]
    out = tmp_path / "report"
    workers = ("--workers", "2") if modality == "video" else ()  # video: classic cells in two processes
    code, _, err = run_cli("compare", source, "-t", files[f"tok-{modality}"], "--classic", "--tokens", "2,8",
                           "-o", out, *workers)
    assert code == 0, err
    results = _results(out)
    keys = {"video": ("psnr", "ssim", "flicker"), "shape": ("chamfer_l1", "f@0.02", "f@0.01")}[modality]
    cells = [c for c in results["cells"] if c["kind"] == "tokenizer"]
    assert [c["budget"] for c in cells] == ["K=2", "K=8"]
    finite = [k for k in keys if k != "chamfer_l1"]  # an untrained shape model may decode an empty mesh: no distance
    assert all(math.isfinite(c[k]) for c in cells for k in finite)
    assert all(c[keys[0]] is None or math.isfinite(c[keys[0]]) for c in cells)
    if modality == "video":
        assert results["inputs"][0]["frames"] == 6
        assert cells[1]["bytes"] == math.ceil(6 * 8 * bits_for(15) / 8)
    else:
        assert cells[1]["bytes"] == math.ceil(8 * bits_for(16) / 8) + 16
    classic = [c for c in results["cells"] if c["kind"] == "classic" and c["fits"]]
    assert classic, results["notes"]
    assert all(math.isfinite(c[k]) for c in classic for k in keys)
    primary = {"video": "psnr", "shape": "f@0.02"}[modality]
    for codec in {c["system"] for c in classic}:  # a larger budget is never worse
        curve = [c[primary] for c in sorted(classic, key=lambda c: c["budget_value"]) if c["system"] == codec]
        assert curve == sorted(curve)
    html = (out / "index.html").read_text()
    distinct = {(c["system"], c["bytes"], c["setting"]) for c in classic}  # a setting chosen twice is shown once
    assert html.count("<img ") == 1 + len(cells) + len(distinct)
    assert html.count("the same file as at") == len(classic) - len(distinct)


def test_browser_renders_media_and_sorts(audio_report, files, tmp_path):
    binary = chromium_or_skip()
    from tokkit.analysis.compare.inputs import Limits
    from tokkit.analysis.compare.run import run_comparison

    image_report = tmp_path / "images"
    run_comparison([files["picture"]], [str(files["tok-image"])], image_report, classic=True, budgets=[2, 8],
                   limits=Limits(side=64), progress=False)
    with Browser(binary, tmp_path) as browser:
        browser.open(audio_report / "index.html")
        assert browser.media_problems() == []
        cells = _results(audio_report)["cells"]  # the originals, every tokenizer cell, every distinct classic file
        distinct = {(c["input"], c["system"], c["bytes"], c["setting"]) for c in cells if c["kind"] == "classic" and c["fits"]}
        assert browser.counts["media"] == 2 + sum(c["kind"] == "tokenizer" for c in cells) + len(distinct)
        column = browser.evaluate("[...document.querySelectorAll('#results th')].findIndex(th => th.textContent === 'bytes') + 1")
        assert column > 0
        read = f"[...document.querySelectorAll('#results tbody tr td:nth-child({column})')].map(td => parseFloat(td.dataset.value))"
        browser.click(f"#results th:nth-child({column})")
        ascending = browser.evaluate(read)
        assert ascending == sorted(ascending) and ascending[0] < ascending[-1]
        browser.click(f"#results th:nth-child({column})")
        assert browser.evaluate(read) == sorted(ascending, reverse=True)
        shot = browser.screenshot(tmp_path / "audio-report.png")
        browser.open(image_report / "index.html")
        assert browser.media_problems() == []
        assert browser.counts["images"] >= 3
        assert browser.console == []
        browser.screenshot(tmp_path / "image-report.png")
    assert Image.open(shot).size[0] >= 1000


# -- bad input ------------------------------------------------------------------------------------------------
def test_mixed_modalities_are_refused(files, tmp_path, run_cli):
    code, _, err = run_cli("compare", files["speech"], files["picture"], "-t", "audio", "-o", tmp_path / "r")
    assert code != 0
    assert "mix modalities" in one_error_line(err)
    assert not (tmp_path / "r").exists()


def test_text_and_wrong_tokenizer_are_refused(files, tmp_path, run_cli):
    code, _, err = run_cli("compare", files["notes"], "-t", "text", "-o", tmp_path / "r")
    assert code != 0 and "audio, image, video or 3D" in one_error_line(err)
    code, _, err = run_cli("compare", files["speech"], "-t", files["tok-image"], "-o", tmp_path / "r")
    assert code != 0 and "image tokenizer and cannot read the audio inputs" in one_error_line(err)
    code, _, err = run_cli("compare", files["picture"], "-t", files["tok-image"], "--tokens", "9,12", "-o", tmp_path / "r")
    assert code != 0 and "fits tokenizer" in one_error_line(err)
    code, _, err = run_cli("compare", files["picture"], "-t", files["tok-image"], "--tokens", "a,b", "-o", tmp_path / "r")
    assert code != 0 and "--tokens" in one_error_line(err)
    assert not (tmp_path / "r" / "index.html").exists()


def test_foreign_output_folder_needs_force(files, tmp_path, run_cli):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "thesis.tex").write_text("mine")
    args = ("compare", files["picture"], "-t", files["tok-image"], "--tokens", "2", "-o", out)
    code, _, err = run_cli(*args)
    assert code != 0 and "--force" in one_error_line(err)
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
    code, _, err = run_cli(*args, "--force")
    assert code == 0, err
    assert (out / "thesis.tex").read_text() == "mine" and (out / "index.html").is_file()


def test_missing_classic_codec_is_a_note(files, tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg, no codec2 or opus tools
    classic_audio._ffmpeg_has.cache_clear()
    try:
        code, _, err = run_cli("compare", files["speech"], "-t", files["tok-audio"], "--classic", "-o", tmp_path / "r")
    finally:
        classic_audio._ffmpeg_has.cache_clear()
    assert code == 0, err
    results = _results(tmp_path / "r")
    assert not [c for c in results["cells"] if c["kind"] == "classic"]
    assert any(n.startswith("Codec2 skipped: Codec2 needs") for n in results["notes"])
    assert any(n.startswith("Opus skipped") for n in results["notes"])
    assert results["classic"]["Opus"]["skipped"]
    assert "note: Codec2 skipped" in err


def test_interrupted_run_resumes(files, tmp_path, run_cli, monkeypatch):
    import tokkit.analysis.compare.run as run_module

    real = run_module.run_tokenizer
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "run_tokenizer", interrupted)
    out = tmp_path / "r"
    args = ("compare", files["picture"], "-t", files["tok-image"], "--tokens", "1,2,4,8", "-o", out)
    code, _, err = run_cli(*args)
    assert code == 130
    assert "rerun the same command to resume" in one_error_line(err, prefix="tokkit: interrupted")
    assert not any((out / name).exists() for name in ("index.html", "results.json", "rd.png", "rd.svg"))
    assert len(list((out / ".cells").glob("*.json"))) == 2
    assert not list(out.rglob("*.tmp"))
    monkeypatch.setattr(run_module, "run_tokenizer", real)
    code, _, err = run_cli(*args)
    assert code == 0, err
    results = _results(out)
    assert (results["cells_reused"], results["cells_computed"]) == (2, 2)


def test_pesq_is_scored_when_the_user_installed_it(files, tmp_path, monkeypatch):
    """The ``pesq`` package is optional (not a dependency): a stand-in module checks the wiring, i.e. that
    compare calls it on the 16 kHz reference and decoded signals and reports and plots what it returns."""
    import importlib.machinery
    import sys
    import types

    from tokkit.analysis.compare.report import rd_figure
    from tokkit.analysis.compare.run import run_comparison

    calls = []
    fake = types.ModuleType("pesq")
    fake.__spec__ = importlib.machinery.ModuleSpec("pesq", None)

    def pesq(rate, reference, degraded, mode):
        calls.append((rate, reference.shape, degraded.shape, mode))
        return 1.0 + float(np.mean(np.abs(degraded)))

    fake.pesq = pesq
    monkeypatch.setitem(sys.modules, "pesq", fake)
    comparison = run_comparison([files["speech"]], [str(files["tok-audio"])], tmp_path / "r", progress=False)
    assert calls == [(16000, (16000,), (16000,), "wb")]
    cell = next(c for c in comparison.cells if c["kind"] == "tokenizer")
    assert cell["pesq"] > 1.0
    assert [a.get_ylabel() for a in rd_figure(comparison).axes][-1] == "PESQ (wideband)"
