"""Run a comparison into a report folder, cell by cell, resumably.

A cell is one tokenizer on one input at one budget, or one classic codec on one input (its best setting
within each target byte count). Each finished cell is kept in ``OUT/.cells/`` under a key made of the
input's hash (file bytes and caps), the tokenizer's hash or the codec's settings, and the budget; files
are written atomically and the JSON record last, so an interrupted run resumes from its finished cells.
The report files (index.html, results.json, rd.png, rd.svg) are written at the end, each atomically.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokkit.analysis.compare.inputs import Input, Limits, read_input, read_inputs
from tokkit.analysis.compare.systems import (RATES, TokenizerSystem, classic_notes, metrics, preview,
                                             run_classic, run_tokenizer, tokenizer_system)
from tokkit.core.atomic import atomic_write_bytes, atomic_write_text
from tokkit.core.tokenizer import json_hash
from tokkit.errors import InputError, OutputExistsError

#: bump when a cell's figures would change for the same inputs and systems (old cells are then recomputed)
CELL_VERSION = 3
MARKER = ".tokkit-compare"
CELLS = ".cells"
#: classic codecs are also fitted to these multiples of the largest tokenizer payload
EXTRA_TARGET_FACTORS = (2, 4, 8, 16)


@dataclass
class Comparison:
    """Everything a report shows: inputs, systems, every cell's figures and preview files, notes."""

    modality: str
    inputs: list[Input]
    tokenizers: list[TokenizerSystem]
    classic: dict[str, str | None]
    limits: Limits
    cells: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reused: int = 0
    computed: int = 0


def prepare_folder(out: Path, *, force: bool) -> None:
    """Make ``out`` ours: new, empty, or made by an earlier compare run (resumed); a folder holding other
    files is refused unless ``force``."""
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out} is a file; give a folder for the report")
    if out.is_dir() and not (out / MARKER).is_file():
        foreign = [p.name for p in out.iterdir()]
        if foreign and not force:
            raise OutputExistsError(f"{out} holds other files ({', '.join(sorted(foreign)[:3])}); choose a new or empty "
                                    f"folder, or pass --force to write the report into it anyway")
    (out / CELLS).mkdir(parents=True, exist_ok=True)
    if not (out / MARKER).is_file():
        atomic_write_text(out / MARKER, "made by tokkit compare; finished cells are kept in .cells/ and reused\n")


class CellStore:
    """Finished cells in ``OUT/.cells``: ``KEY.json`` (figures; written last) and ``KEY-N.bin`` previews."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get(self, key: str) -> dict | None:
        """The record of a finished cell whose preview files are all present, else None."""
        path = self.folder / f"{key}.json"
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if not all((self.folder / f).is_file() for f in record.get("files", [])):
            return None
        return record

    def put(self, key: str, results: list[dict], previews: list[tuple[bytes, str] | None]) -> dict:
        """Store a cell: its preview files first, then its JSON record (the cell counts as done only then)."""
        files = []
        for index, item in enumerate(previews):
            if item is None:
                continue
            name = f"{key}-{index}.bin"
            atomic_write_bytes(self.folder / name, item[0])
            results[index]["preview"] = {"file": name, "mime": item[1]}
            files.append(name)
        record = {"version": CELL_VERSION, "results": results, "files": files}
        atomic_write_text(self.folder / f"{key}.json", json.dumps(record))
        return record

    def read(self, name: str) -> bytes:
        """A preview file's bytes."""
        return (self.folder / name).read_bytes()


def _classic_settings_hash(modality: str) -> str:
    """A hash of a modality's classic ladders (settings change -> cells recomputed)."""
    import importlib

    module = importlib.import_module(f"tokkit.analysis.classic.{modality}")
    names = ("CODEC2_MODES", "OPUS_KBPS", "SCALES", "QUALITIES", "CODECS", "FACE_LADDER", "DRACO_BITS",
             "CLUSTER_GRIDS", "ORACLE_TOP")
    return json_hash({n: repr(getattr(module, n)) for n in names if hasattr(module, n)})


def run_comparison(inputs: list[str | os.PathLike], tokenizers: list[str], out: str | os.PathLike, *,
                   classic: bool = False, budgets: list[int] | None = None, limits: Limits = Limits(),
                   force: bool = False, progress: bool = True, workers: int = 1) -> Comparison:
    """Compare ``tokenizers`` (and with ``classic`` the classic codecs) on ``inputs`` of one modality and
    write the report into ``out``; returns the :class:`Comparison`.
    ``workers`` > 1 runs the classic cells in that many processes (tokenizers run here, on torch's threads)."""
    from tqdm import tqdm

    from tokkit.analysis.compare.report import write_report

    if not tokenizers:
        raise InputError("name at least one tokenizer with -t (a built-in name such as audio or image, a "
                         "checkpoint or a trained folder)")
    modality, items = read_inputs(list(inputs), limits)
    systems = [tokenizer_system(spec, modality, budgets) for spec in dict.fromkeys(tokenizers)]
    labels = [s.label for s in systems]
    for system in systems:
        if labels.count(system.label) > 1:
            system.label = f"{system.label} ({system.hash[:6]})"
    notes_by_codec = classic_notes(modality) if classic else {}
    comparison = Comparison(modality, items, systems, notes_by_codec, limits)
    for system in systems:
        comparison.notes.extend(system.notes)
    for codec, note in notes_by_codec.items():
        if note:
            comparison.notes.append(f"{codec} skipped: {note}")
    if classic and modality == "shape" and any(not item.reference.is_mesh for item in items):
        comparison.notes.append("classic mesh coders need meshes: point-cloud inputs have no classic cells")

    out = Path(out)
    prepare_folder(out, force=force)
    store = CellStore(out / CELLS)
    runnable = [codec for codec, note in notes_by_codec.items() if note is None]
    total = sum(len(s.budgets) for s in systems) * len(items) + len(runnable) * len(items)
    bar = tqdm(total=total, desc="compare", unit="cell", file=sys.stderr, disable=not progress or None)
    warmed: set[str] = set()
    metric_keys = [key for key, _, _ in metrics(modality)]  # a metric installed later (pesq) recomputes cells

    def add(record: dict, reused: bool, counted: bool = True) -> None:
        for result in record["results"]:
            comparison.cells.append({**result, "reused": reused})
        if reused:
            comparison.reused += 1
        else:
            comparison.computed += 1
        if counted:
            bar.update(1)

    try:
        for item in items:  # tokenizers first: their payloads set the classic codecs' targets
            for system in systems:
                for budget in system.budgets:
                    key = json_hash({"v": CELL_VERSION, "input": item.sha256, "tokenizer": system.hash,
                                     "option": system.option, "budget": budget, "metrics": metric_keys})
                    bar.set_postfix_str(f"{item.label} {system.label} {system.budget_label(budget)}", refresh=False)
                    record = store.get(key)
                    if record is not None:
                        add(record, True)
                        continue
                    if system.hash not in warmed:  # a first call pays one-off costs; keep them out of the timings
                        _warm_up(system)
                        warmed.add(system.hash)
                    figures, decoded = run_tokenizer(system, item, budget)
                    figures.update(input=item.label, system=system.label, kind="tokenizer",
                                   budget=system.budget_label(budget), budget_value=budget)
                    add(store.put(key, [figures], [preview(modality, decoded)]), False)
        jobs = []  # (key, item, codec, targets) of every classic cell, in report order
        for item in items:
            targets = classic_targets([int(c["bytes"]) for c in comparison.cells
                                       if c["input"] == item.label and c["kind"] == "tokenizer"])
            for codec in runnable:
                jobs.append((json_hash({"v": CELL_VERSION, "input": item.sha256, "codec": codec, "metrics": metric_keys,
                                        "settings": _classic_settings_hash(modality), "targets": targets}),
                             item, codec, targets))
        done = {key: record for key, *_ in jobs if (record := store.get(key)) is not None}
        todo = [job for job in jobs if job[0] not in done]
        for key, item, codec, pairs in _classic_results(todo, limits, workers):
            bar.set_postfix_str(f"{item.label} {codec}", refresh=False)
            done[key] = store.put(key, [figures for figures, _ in pairs], [shown for _, shown in pairs])
            bar.update(1)
        computed = {job[0] for job in todo}
        for key, *_ in jobs:  # in report order, whatever order the workers finished in
            add(done[key], reused=key not in computed, counted=key not in computed)
    finally:
        bar.close()
    for item in items:
        item.cache.clear()
    for cell in comparison.cells:
        if "bytes" in cell:
            cell["rate"] = RATES[modality][1](cell["bytes"], next(i.facts for i in items if i.label == cell["input"]))
    comparison.notes.extend(_cannot_fit(comparison))
    write_report(comparison, out, store)
    return comparison


def classic_cell(item: Input, codec: str, targets: list[int]) -> list[tuple[dict, tuple[bytes, str] | None]]:
    """One classic cell: per target, the figures of the best setting that fits and its preview (or a
    "does not fit" record and no preview)."""
    out = []
    for target, figures, decoded in run_classic(codec, item, targets):
        base = {"input": item.label, "system": codec, "kind": "classic", "budget": f"<= {target} B",
                "budget_value": target}
        if figures is None:
            out.append(({**base, "fits": False}, None))
        else:
            out.append(({**base, **figures, "fits": True}, preview(item.modality, decoded)))
    return out


def _classic_worker(path: str, modality: str, limits: Limits, codec: str, targets: list[int]) -> list:
    """A worker process's job: read the input again (same caps) and run one classic cell."""
    return classic_cell(read_input(Path(path), modality, limits), codec, targets)


def _one_thread() -> None:
    """Worker processes use one thread each (set before torch, if a metric needs it, is imported) and leave
    Ctrl-C to the main process, which stops handing out cells and reports the interruption in one line."""
    import signal

    os.environ["OMP_NUM_THREADS"] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _classic_results(todo: list, limits: Limits, workers: int) -> Any:
    """(key, item, codec, [(figures, preview)]) for each job, here or in ``workers`` processes (spawned)."""
    if workers <= 1 or len(todo) <= 1:
        for key, item, codec, targets in todo:
            yield key, item, codec, classic_cell(item, codec, targets)
        return
    import concurrent.futures
    import multiprocessing

    with concurrent.futures.ProcessPoolExecutor(min(workers, len(todo)), mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_one_thread) as pool:
        futures = {pool.submit(_classic_worker, str(item.path), item.modality, limits, codec, targets): (key, item, codec)
                   for key, item, codec, targets in todo}
        try:
            for future in concurrent.futures.as_completed(futures):
                key, item, codec = futures[future]
                yield key, item, codec, future.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def classic_targets(tokenizer_bytes: list[int]) -> list[int]:
    """Byte counts the classic codecs are fitted to: every tokenizer payload, and 2, 4, 8 and 16 times the
    largest (so their curves show how many bytes they need to reach the tokenizers' quality)."""
    largest = max(tokenizer_bytes)
    return sorted(set(tokenizer_bytes) | {factor * largest for factor in EXTRA_TARGET_FACTORS})


def _warm_up(system: TokenizerSystem) -> None:
    """One encode and decode of a tiny synthetic item, so the first timed cell is not a cold start."""
    try:
        example = system.tokenizer.example_inputs(1)[0]
    except NotImplementedError:
        return
    system.tokenizer.decode(system.tokenizer.encode(example))


def _cannot_fit(comparison: Comparison) -> list[str]:
    """One note per classic codec that could not fit some targets."""
    misses: dict[str, list[str]] = {}
    for cell in comparison.cells:
        if cell["kind"] == "classic" and not cell.get("fits", True):
            misses.setdefault(cell["system"], []).append(f"{cell['input']} {cell['budget']}")
    return [f"{codec} cannot fit {len(where)} target(s) (no setting is that small): {', '.join(where[:4])}"
            + (" ..." if len(where) > 4 else "") for codec, where in misses.items()]


def versions() -> dict[str, str]:
    """Versions of tokkit, Python and the libraries the figures depend on (absent ones left out)."""
    import importlib.metadata
    import shutil
    import subprocess

    import tokkit

    out = {"tokkit": tokkit.__version__, "python": platform.python_version(), "platform": platform.platform()}
    for package in ("numpy", "torch", "Pillow", "av", "scipy", "pystoi", "pesq", "DracoPy", "fast-simplification",
                    "matplotlib", "trimesh"):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    if shutil.which("ffmpeg"):
        first = subprocess.run(["ffmpeg", "-hide_banner", "-version"], capture_output=True, text=True).stdout
        out["ffmpeg"] = (first.splitlines() or ["?"])[0]
    return out


def _finite_or_none(value: Any) -> Any:
    """JSON has no NaN or infinity: those become null (e.g. the Chamfer distance of an empty decoded mesh)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def results_json(comparison: Comparison) -> dict[str, Any]:
    """Everything results.json holds (non-finite figures as null)."""
    import torch

    return {
        "created": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "modality": comparison.modality,
        "rate": RATES[comparison.modality][0],
        "metrics": [{"key": k, "label": label, "higher_is_better": h} for k, label, h in metrics(comparison.modality)],
        "limits": comparison.limits.as_dict(),
        "versions": versions(),
        "torch_threads": torch.get_num_threads(),
        "inputs": [{"name": i.label, "path": str(i.path), "sha256": i.sha256,
                    **i.facts} for i in comparison.inputs],
        "tokenizers": [{"label": s.label, "spec": s.spec, "kind": s.tokenizer.kind, "hash": s.hash,
                        "option": s.option, "budgets": s.budgets,
                        "describe": {k: v for k, v in s.tokenizer.describe().items()
                                     if isinstance(v, (str, int, float, bool, type(None)))}}
                       for s in comparison.tokenizers],
        "classic": {codec: {"skipped": note} if note else {"skipped": None} for codec, note in comparison.classic.items()},
        "cells": [{k: _finite_or_none(v) for k, v in cell.items() if k != "preview"} for cell in comparison.cells],
        "cells_reused": comparison.reused,
        "cells_computed": comparison.computed,
        "notes": comparison.notes,
    }


__all__ = ["Comparison", "Limits", "run_comparison", "prepare_folder", "results_json"]
