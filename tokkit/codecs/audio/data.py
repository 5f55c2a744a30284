"""Training data: every audio file under a folder, held in memory as int16, served as random crops."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from tokkit.codecs.audio.io import AUDIO_SUFFIXES, read_audio
from tokkit.errors import InputError


class CropSampler:
    """Random fixed-length crops (with random gain) from a folder of speech files at ``sample_rate``."""

    def __init__(self, folder: str | Path, sample_rate: int, segment: int, seed: int = 0, balance: str = "clips") -> None:
        """``balance``: "clips" draws every file equally often; "folders" draws a file with probability
        proportional to its length over the square root of its folder's total length (each folder's share
        grows as the square root of its audio), so a voice with hours of audio does not drown the others."""
        if balance not in ("clips", "folders"):
            raise InputError(f"balance must be 'clips' or 'folders', got {balance!r}")
        files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            raise InputError(f"no audio files ({', '.join(AUDIO_SUFFIXES)}) under {folder}")
        self.clips: list[np.ndarray] = []
        groups: list[str] = []
        for path in files:
            try:
                audio, _ = read_audio(path, sample_rate)
            except InputError as exc:
                print(f"skipping {path}: {exc}", file=sys.stderr)
                continue
            self.clips.append((np.clip(audio, -1, 1) * 32767).astype(np.int16))
            groups.append(str(path.parent))
        if not self.clips:
            raise InputError(f"none of the audio files under {folder} could be used")
        self.seconds = sum(c.size for c in self.clips) / sample_rate
        self.segment = segment
        self.rng = np.random.default_rng(seed)
        self.weights = None
        if balance == "folders":
            sizes = np.array([c.size for c in self.clips], dtype=np.float64)
            totals: dict[str, float] = {}
            for group, size in zip(groups, sizes):
                totals[group] = totals.get(group, 0.0) + size
            weights = sizes / np.sqrt([totals[g] for g in groups])
            self.weights = weights / weights.sum()
            self.groups = len(totals)

    def batch(self, size: int) -> torch.Tensor:
        """(size, segment) float32 crops, each scaled to a random peak level."""
        out = np.zeros((size, self.segment), dtype=np.float32)
        for row in out:
            clip = self.clips[self.rng.integers(len(self.clips)) if self.weights is None
                              else self.rng.choice(len(self.clips), p=self.weights)]
            if clip.size >= self.segment:
                start = self.rng.integers(clip.size - self.segment + 1)
                row[:] = clip[start:start + self.segment]
            else:
                start = self.rng.integers(self.segment - clip.size + 1)
                row[start:start + clip.size] = clip
            peak = np.abs(row).max()
            if peak > 0:
                row *= self.rng.uniform(0.1, 0.95) / peak
        return torch.from_numpy(out)
