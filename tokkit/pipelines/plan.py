"""The shard plan: which input files go into which shard, fixed by sorted paths and the shard size."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tokkit.core.registry import default_tokenizer_name
from tokkit.core.tokenizer import json_hash
from tokkit.errors import InputError


@dataclass(frozen=True)
class InputFile:
    """One input: its path relative to the input folder (POSIX form), full path and size in bytes."""

    relative: str
    path: Path
    size: int


def list_inputs(directory: str | os.PathLike) -> tuple[list[InputFile], list[tuple[str, str]]]:
    """Every visible file under ``directory`` sorted by relative path, and the unreadable ones with a reason.

    Names starting with a dot (files or folders) are skipped; links to files are followed.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"{directory} is not a folder")
    files: list[InputFile] = []
    problems: list[tuple[str, str]] = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in names:
            if name.startswith("."):
                continue
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            try:
                relative.encode("utf-8")
            except UnicodeEncodeError:
                problems.append((relative.encode("utf-8", "replace").decode("utf-8"), "its name is not valid UTF-8"))
                continue
            if not path.exists():
                problems.append((relative, "a broken link"))
            elif not path.is_file():
                problems.append((relative, "not a regular file"))
            elif not os.access(path, os.R_OK):
                problems.append((relative, "permission denied"))
            else:
                files.append(InputFile(relative, path, path.stat().st_size))
    files.sort(key=lambda f: f.relative)
    problems.sort()
    return files, problems


def check_one_modality(files: list[InputFile], directory: str, tokenizer_modality: str | None) -> str:
    """The one modality of the inputs (by suffix); a clear error if they mix kinds or do not fit the tokenizer."""
    kinds = Counter(default_tokenizer_name(f.relative) for f in files)
    if len(kinds) > 1:
        examples = {}
        for f in files:
            examples.setdefault(default_tokenizer_name(f.relative), f.relative)
        parts = ", ".join(f"{count} {kind} (e.g. {examples[kind]})" for kind, count in sorted(kinds.items()))
        raise InputError(f"{directory} mixes modalities: {parts}; put each kind in its own folder and encode them separately")
    kind = next(iter(kinds))
    if tokenizer_modality and kind != tokenizer_modality:
        raise InputError(f"{directory} holds {kind} files but the tokenizer is for {tokenizer_modality}")
    return kind


@dataclass(frozen=True)
class ShardPlan:
    """Files in sorted order cut into consecutive shards of ``shard_size`` files."""

    files: tuple[InputFile, ...]
    shard_size: int

    @property
    def shards(self) -> list[tuple[InputFile, ...]]:
        return [self.files[start : start + self.shard_size] for start in range(0, len(self.files), self.shard_size)]

    def shard_name(self, index: int) -> str:
        width = max(5, len(str(len(self.shards) - 1)))
        return f"shard-{index:0{width}d}.parquet"

    def shard_hash(self, index: int) -> str:
        """Fingerprint of one shard's inputs (relative paths and sizes)."""
        return json_hash([[f.relative, f.size] for f in self.shards[index]])

    def plan_hash(self) -> str:
        """Fingerprint of the whole plan: every input, its size and the shard size."""
        return json_hash({"shard_size": self.shard_size, "files": [[f.relative, f.size] for f in self.files]})

    def source_index(self) -> dict[str, int]:
        """Each input's relative path -> the index of the shard that holds it."""
        return {f.relative: i for i, shard in enumerate(self.shards) for f in shard}


def make_plan(files: list[InputFile], shard_size: int) -> ShardPlan:
    """Cut the sorted inputs into shards of ``shard_size`` files."""
    if shard_size < 1:
        raise InputError(f"--shard-size must be at least 1, got {shard_size}")
    return ShardPlan(tuple(files), shard_size)
