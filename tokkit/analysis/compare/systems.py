"""What a comparison runs: tokenizers at each budget they offer and classic codecs at matching bytes, and
how each result is scored (quality metrics per modality, payload bytes, rate, speed)."""

from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tokkit.analysis.compare.inputs import Input
from tokkit.errors import InputError

#: per modality: (key, label, higher is better); the first available one ranks classic settings and is plotted first
METRICS: dict[str, list[tuple[str, str, bool]]] = {
    "audio": [("stoi", "STOI", True), ("mel", "mel distance", False), ("si_sdr", "SI-SDR (dB)", True),
              ("pesq", "PESQ (wideband)", True)],
    "image": [("psnr", "PSNR (dB)", True), ("ssim", "SSIM", True)],
    "video": [("psnr", "PSNR (dB)", True), ("ssim", "SSIM", True), ("flicker", "flicker", False)],
    "shape": [("f@0.02", "F-score @0.02", True), ("chamfer_l1", "Chamfer-L1", False), ("f@0.01", "F-score @0.01", True)],
}
#: per modality: the rate shown on the x axis, its label, and how it follows from (bytes, input facts)
RATES: dict[str, tuple[str, Callable[[float, dict], float]]] = {
    "audio": ("kbps", lambda n, facts: 8 * n / facts["duration"] / 1000),
    "image": ("bits per pixel", lambda n, facts: 8 * n / (facts["width"] * facts["height"])),
    "video": ("bytes per frame", lambda n, facts: n / facts["frames"]),
    "shape": ("bytes", lambda n, facts: float(n)),
}
#: side information a token file carries beside the codes, counted in the payload: a shape's placement
#: (bounding-box centre and scale as 4 float32), which the classic coders' absolute coordinates include
SIDE_BYTES = {"shape": 16}
#: the budget each tokenizer option means, and the default values (those above the tokenizer's maximum
#: are dropped and the maximum itself is always added)
BUDGET_OPTIONS = ("tokens", "codebooks")
DEFAULT_BUDGETS: dict[str, tuple[int, ...]] = {
    "image": (4, 8, 16, 32, 64, 128, 256), "video": (8, 16, 32), "shape": (32, 64, 128, 256),
    "audio": (1, 2, 4, 8, 16),
}
#: classic codecs run with --classic, per modality
CLASSIC: dict[str, tuple[str, ...]] = {
    "audio": ("Codec2", "Opus"), "image": ("JPEG", "WebP", "AVIF"), "video": ("x264", "SVT-AV1"),
    "shape": ("decimation + draco", "clustering + draco"),
}


def metrics(modality: str) -> list[tuple[str, str, bool]]:
    """The metrics this machine can compute for ``modality`` (STOI only where pystoi is installed, PESQ
    only where the user installed the ``pesq`` package)."""
    from tokkit.analysis.metrics_audio import pesq_available, stoi_available

    present = {"stoi": stoi_available(), "pesq": pesq_available()}
    return [m for m in METRICS[modality] if present.get(m[0], True)]


def primary(modality: str) -> tuple[str, str, bool]:
    """The metric that ranks classic settings and heads the plot."""
    return metrics(modality)[0]


def payload_bytes(tokens: Any, codebook_size: int, modality: str) -> int:
    """Packed code bytes, ceil(codes * ceil(log2 K) / 8), plus the modality's side information."""
    from tokkit.core.bitpack import bits_for

    return math.ceil(np.asarray(tokens.codes).size * bits_for(codebook_size) / 8) + SIDE_BYTES.get(modality, 0)


# -- scoring ------------------------------------------------------------------------------------------------
def score(item: Input, decoded: Any) -> dict[str, float]:
    """Every metric of ``decoded`` (in the reference's form) against the input's reference."""
    if item.modality == "audio":
        from tokkit.analysis.metrics_audio import audio_scores

        return audio_scores(item.reference, np.asarray(decoded, dtype=np.float32), pesq=True)
    if item.modality == "image":
        from tokkit.analysis.image_metrics import psnr, ssim

        out = {"psnr": psnr(item.reference, decoded)}
        if min(item.reference.shape[:2]) >= 11:
            out["ssim"] = ssim(item.reference, decoded)
        return out
    if item.modality == "video":
        from tokkit.analysis.image_metrics import clip_scores, psnr

        if min(item.reference.shape[1:3]) >= 11:
            return clip_scores(item.reference, decoded)
        return {"psnr": float(np.mean([psnr(a, b) for a, b in zip(item.reference, decoded)]))}
    if "surface" not in item.cache:
        from tokkit.analysis.shape_metrics import ReferenceSurface

        item.cache["surface"] = ReferenceSurface(item.reference.vertices, item.reference.faces)
    return item.cache["surface"].score(*decoded).as_dict()


def is_better(modality: str, new: dict, old: dict | None) -> bool:
    """True if scores ``new`` beat ``old`` on the primary metric (any score beats None)."""
    key, _, higher = primary(modality)
    if old is None:
        return True
    a, b = new.get(key, math.nan), old.get(key, math.nan)
    if math.isnan(b):
        return not math.isnan(a)
    return (a > b) if higher else (a < b)


# -- previews for the report --------------------------------------------------------------------------------
def preview(modality: str, decoded: Any) -> tuple[bytes, str]:
    """A small file showing ``decoded`` (reference form): (bytes, MIME type). Audio: 16-bit FLAC at 16 kHz
    (lossless, half a wav);
    pictures: PNG; clips: a PNG strip of four frames; shapes: a PNG rendering."""
    from PIL import Image

    buffer = io.BytesIO()
    if modality == "audio":
        import soundfile as sf

        from tokkit.analysis.metrics_audio import EVAL_RATE

        sf.write(buffer, np.clip(np.asarray(decoded, dtype=np.float32), -1, 1), EVAL_RATE, format="FLAC", subtype="PCM_16")
        return buffer.getvalue(), "audio/flac"
    if modality == "image":
        Image.fromarray(np.asarray(decoded, dtype=np.uint8)).save(buffer, format="PNG", optimize=True)
        return buffer.getvalue(), "image/png"
    if modality == "video":
        clip = np.asarray(decoded, dtype=np.uint8)
        picks = sorted({round(i * (len(clip) - 1) / 3) for i in range(4)})
        gap = np.full((clip.shape[1], 2, 3), 255, np.uint8)
        strip = np.concatenate([part for i in picks for part in (clip[i], gap)][:-1], axis=1)
        Image.fromarray(strip).save(buffer, format="PNG", optimize=True)
        return buffer.getvalue(), "image/png"
    if hasattr(decoded, "vertices"):  # the reference Shape
        decoded = (decoded.vertices, decoded.faces)
    return render_shape(*decoded), "image/png"


def render_shape(vertices: np.ndarray, faces: np.ndarray, size: float = 2.2, dpi: int = 72) -> bytes:
    """A shaded PNG of a mesh (or a point cloud when ``faces`` is empty), scaled into the unit cube, y up."""
    from matplotlib.figure import Figure

    from tokkit.analysis.plots import draw_mesh, require_matplotlib

    require_matplotlib()
    vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    if len(vertices):
        low, high = vertices.min(0), vertices.max(0)
        vertices = (vertices - (low + high) / 2) / max(float((high - low).max()), 1e-12)
    figure = Figure(figsize=(size, size), dpi=dpi)
    draw_mesh(figure.add_subplot(projection="3d"), vertices, faces, max_faces=20_000)
    figure.subplots_adjust(0, 0, 1, 1)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


# -- tokenizers -----------------------------------------------------------------------------------------------
@dataclass
class TokenizerSystem:
    """A tokenizer in the comparison: its label, the option its budgets set (None: one budget, all of
    it) and the values to run."""

    spec: str
    tokenizer: Any
    label: str
    option: str | None
    budgets: list[int | None]
    notes: list[str] = field(default_factory=list)

    @property
    def hash(self) -> str:
        """The tokenizer's identity hash (config and weights)."""
        return self.tokenizer.identity["hash"]

    def budget_label(self, budget: int | None) -> str:
        """How a budget reads in the report: "K=16", "4 codebooks" or "all"."""
        if self.option is None or budget is None:
            return "all"
        return f"K={budget}" if self.option == "tokens" else f"{budget} {self.option}"


def tokenizer_system(spec: str, modality: str, values: list[int] | None) -> TokenizerSystem:
    """Load tokenizer ``spec``, check that it reads ``modality`` and choose its budgets (``values``, or the
    defaults); InputError when it cannot read the inputs or no budget fits it."""
    import tokkit
    from tokkit.core.registry import builtin_path

    tokenizer = tokkit.load(spec)
    if tokenizer.modality != modality:
        raise InputError(f"tokenizer {spec} is a {tokenizer.modality} tokenizer and cannot read the {modality} inputs; "
                         f"name a {modality} tokenizer with -t")
    option = next((name for name in BUDGET_OPTIONS if tokenizer.option(name) is not None), None)
    label = spec if builtin_path(spec) is not None and not Path(spec).exists() else Path(spec).name
    if option is None:
        notes = [f"{label} has no budget option; --tokens does not apply to it"] if values else []
        return TokenizerSystem(spec, tokenizer, label, None, [None], notes)
    _, high = tokenizer.option(option).bounds(tokenizer)
    high = int(high) if high is not None else max(values or DEFAULT_BUDGETS[modality])
    wanted = list(values) if values else [v for v in DEFAULT_BUDGETS[modality] if v < high] + [high]
    kept = sorted({v for v in wanted if 1 <= v <= high})
    notes = []
    dropped = sorted(set(wanted) - set(kept))
    if dropped:
        notes.append(f"{label}: {option} {', '.join(map(str, dropped))} left out (it offers 1..{high})")
    if not kept:
        raise InputError(f"none of the budgets {', '.join(map(str, wanted))} fits tokenizer {spec} ({option} 1..{high})")
    return TokenizerSystem(spec, tokenizer, label, option, kept, notes)


def to_reference_form(item: Input, decoded: Any) -> Any:
    """A tokenizer's decoded output in the reference's form (16 kHz samples, uint8 arrays, (vertices, faces))."""
    if item.modality == "audio":
        from tokkit.analysis.metrics_audio import EVAL_RATE
        from tokkit.codecs.audio.io import resample

        return resample(np.asarray(decoded.samples, dtype=np.float32), decoded.sample_rate, EVAL_RATE)
    if item.modality == "image":
        from PIL import Image

        picture = decoded.convert("RGB")
        height, width = item.reference.shape[:2]
        if picture.size != (width, height):
            picture = picture.resize((width, height), Image.Resampling.BICUBIC)
        return np.asarray(picture)
    if item.modality == "video":
        frames = decoded.numpy()
        count = len(item.reference)
        if len(frames) < count:
            frames = np.concatenate([frames, np.repeat(frames[-1:], count - len(frames), axis=0)])
        return frames[:count]
    return np.asarray(decoded.vertices, dtype=np.float64), np.asarray(decoded.faces, dtype=np.int64)


def run_tokenizer(system: TokenizerSystem, item: Input, budget: int | None) -> tuple[dict, Any]:
    """Encode and decode one input at one budget: (figures, decoded in reference form)."""
    options = {} if budget is None else {system.option: budget}
    started = time.perf_counter()
    tokens = system.tokenizer.encode(item.item, **options)
    encoded = time.perf_counter()
    decoded = to_reference_form(item, system.tokenizer.decode(tokens))
    finished = time.perf_counter()
    figures = {"bytes": payload_bytes(tokens, system.tokenizer.codebook_size, item.modality),
               "tokens": int(np.asarray(tokens.codes).size), "encode_s": encoded - started,
               "decode_s": finished - encoded, **score(item, decoded)}
    return figures, decoded


# -- classic codecs ------------------------------------------------------------------------------------------
def classic_module(modality: str) -> Any:
    """tokkit.analysis.classic.<modality>."""
    import importlib

    return importlib.import_module(f"tokkit.analysis.classic.{modality}")


def classic_notes(modality: str) -> dict[str, str | None]:
    """The classic codecs of ``modality`` -> None (runs here) or why it is skipped."""
    found = classic_module(modality).available()
    return {name: found.get(name, f"{name} is unknown") for name in CLASSIC[modality]}


def run_classic(codec: str, item: Input, targets: list[int]) -> list[tuple[int, dict, Any] | tuple[int, None, None]]:
    """The best setting of ``codec`` within each target byte count: (target, figures, decoded), with
    (target, None, None) where no setting fits."""
    module = classic_module(item.modality)
    if item.modality == "shape":
        return _classic_shape(module, codec, item, targets)
    best: dict[int, tuple[dict, Any]] = {}
    source = item.item if item.modality == "audio" else item.reference  # audio codecs resample from the source rate
    for coded in module.ladder(codec, source):
        fitting = [t for t in targets if coded.bytes <= t]
        if not fitting:
            continue
        scores = score(item, coded.decoded)
        figures = {"bytes": float(coded.bytes), "setting": coded.setting, "encode_s": coded.encode_s,
                   "decode_s": coded.decode_s, **scores}
        for target in fitting:
            if is_better(item.modality, scores, best.get(target, (None,))[0]):
                best[target] = (figures, coded.decoded)
    return [(t, *best[t]) if t in best else (t, None, None) for t in targets]


def _classic_shape(module: Any, codec: str, item: Input, targets: list[int]) -> list:
    """Shapes: of the candidates that fit each target, the ORACLE_TOP largest are scored (benchmarks/
    shape_quality.py scores every fitting one), beside the choice for the next smaller target."""
    if not item.reference.is_mesh:
        return [(t, None, None) for t in targets]
    candidates = sorted(module.ladder(codec, item.reference), key=lambda c: -c.bytes)
    scored: dict[int, dict] = {}
    out = []
    chosen = None  # what fits a smaller target fits this one too: a larger budget is never worse
    for target in sorted(targets):
        for coded in [c for c in candidates if c.bytes <= target][:module.ORACLE_TOP[codec]]:
            if id(coded) not in scored:
                scored[id(coded)] = score(item, coded.decoded)
            figures = {"bytes": float(coded.bytes), "setting": coded.setting, "encode_s": coded.encode_s,
                       "decode_s": coded.decode_s, **scored[id(coded)]}
            if chosen is None or is_better(item.modality, figures, chosen[0]):
                chosen = (figures, coded.decoded)
        out.append((target, *chosen) if chosen else (target, None, None))
    return out
