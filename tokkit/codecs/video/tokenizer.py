"""``VideoTokenizer``: the causal image-video tokenizer behind ``tokkit.load("video")``.

A clip becomes, per frame, K tokens (1 <= K <= N; one K for every frame, or one per frame). Frame 0 is
coded alone, frame t with the decoded frame t-1 as context, so the codes of the first j frames never
depend on later frames (a clip can be encoded as it streams in, in bounded memory, and cut anywhere).
Inputs of any size, frame rate and format follow the policy in :mod:`tokkit.codecs.video.io`; the
tokens record the source size and frame rate, and decoding restores both.

Tokens: ``codes`` (T, K) when every frame keeps K tokens; when K varies per frame, ``codes`` is the
frames' codes concatenated, (sum K_t,), and ``meta["frame_tokens"]`` lists each K_t.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator, Sequence

import numpy as np
from PIL import Image

from tokkit.codecs.image.io import IMAGE_SUFFIXES, Placement, from_array, from_model_output, place, read_rgb, \
    to_model_input, to_rgb
from tokkit.codecs.image.tokenizer import PrefixModelTokenizer
from tokkit.codecs.video.config import KIND
from tokkit.codecs.video.io import OUTPUT_SUFFIXES, VIDEO_SUFFIXES, probe, read_frames, write_video
from tokkit.codecs.video.model import VideoCodecModel
from tokkit.core.atomic import check_writable
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError

#: the longest clip (in model frames) a token file may describe: 24 hours at 16 fps
MAX_FRAMES = 24 * 3600 * 16


class DecodedVideo:
    """A decoded clip, produced frame by frame (bounded memory): iterate for RGB frames (H, W, 3) uint8
    at the source's size and frame rate; ``numpy()`` collects them; ``model_frames()`` yields the
    model's own (S, S, 3) frames at the model's frame rate."""

    def __init__(self, tokenizer: "VideoTokenizer", tokens: Tokens) -> None:
        self._tokenizer = tokenizer
        self._frames, self.placement, self.source_fps = tokenizer._check_codes(tokens)
        self.width, self.height = self.placement.width, self.placement.height
        self.fps = self.source_fps
        count = tokens.meta.get("source_frames")
        estimate = int(np.ceil(len(self._frames) / tokenizer.config.fps * self.source_fps - 1e-6))
        self._source_frames = count if isinstance(count, int) and 1 <= count <= 4 * estimate + 4 else max(1, estimate)

    def model_frames(self) -> Iterator[np.ndarray]:
        """The decoder's frames (S, S, 3) uint8 at the model's frame rate, one per token frame."""
        return self._tokenizer._decode_model_frames(self._frames)

    def __len__(self) -> int:
        """Frames at the source frame rate."""
        return self._source_frames

    def __iter__(self) -> Iterator[np.ndarray]:
        model_fps = self._tokenizer.config.fps
        total = len(self)
        emitted = 0
        for index, frame in enumerate(self.model_frames()):
            image = from_model_output(frame, self.placement)
            array = np.asarray(image)
            # source frame j shows the latest model frame whose time is <= j / source_fps
            while emitted < total and (index + 1 >= len(self._frames) or (index + 1) / model_fps > emitted / self.source_fps + 1e-6):
                yield array
                emitted += 1

    def numpy(self) -> np.ndarray:
        """All frames (T, H, W, 3) uint8 at the source size and frame rate."""
        return np.stack(list(self))


class VideoTokenizer(PrefixModelTokenizer):
    """Causal video tokenizer: ``encode`` a clip -> per-frame codes; ``decode`` -> :class:`DecodedVideo`.

    ``device`` is "auto", "cpu" or "cuda".
    """

    modality: ClassVar[str] = "video"
    kind: ClassVar[str] = KIND
    input_suffixes: ClassVar[tuple[str, ...]] = VIDEO_SUFFIXES + tuple(s for s in IMAGE_SUFFIXES if s != ".gif")
    output_suffix: ClassVar[str] = ".mp4"

    # -- encode -----------------------------------------------------------------------------
    def encode(self, item: Any, *, tokens: int | Sequence[int] | None = None, fps: float | None = None,
               progress: bool = False) -> Tokens:
        """Encode a clip: a video or image file path, file bytes, a numpy array (T, H, W, 3) or (H, W, 3)
        uint8, a Pillow image, or an iterable of frames (then ``fps`` is their rate; default the model's).
        ``tokens``: K for every frame (default N) or a list with one K per frame."""
        if isinstance(item, (str, os.PathLike)):
            return self.encode_file(item, tokens=tokens, progress=progress)
        if isinstance(item, (bytes, bytearray, memoryview)):
            return self._encode_bytes(bytes(item), tokens=tokens)
        if isinstance(item, Image.Image):
            frames: Iterable[Any] = [to_rgb(item)]
        elif isinstance(item, np.ndarray):
            frames = [item] if item.ndim == 2 or (item.ndim == 3 and item.shape[-1] in (1, 3, 4) and item.shape[0] > 4) \
                else list(item)
        elif isinstance(item, Iterable):
            frames = item
        else:
            raise InputError(f"cannot encode a {type(item).__name__}: pass a file path, a numpy array (T, H, W, 3), "
                             "a Pillow image or an iterable of frames")
        return self._encode_frames(frames, fps or self.config.fps, tokens, progress=progress)

    def encode_file(self, path: str | os.PathLike, *, tokens: int | Sequence[int] | None = None,
                    progress: bool = True) -> Tokens:
        """Read a video (mp4, avi, mkv, webm, y4m, gif, ...) or a still image (a one-frame clip) and encode it."""
        suffix = Path(path).suffix.lower()
        if suffix in IMAGE_SUFFIXES and suffix != ".gif":
            return self._encode_frames([read_rgb(path)], self.config.fps, tokens)
        info = probe(path)
        stats: dict[str, int] = {}
        frames = read_frames(path, self.config.fps, stats=stats)
        return self._encode_frames(frames, info.fps, tokens, progress=progress, resampled=True, stats=stats)

    def _encode_bytes(self, data: bytes, *, tokens: int | Sequence[int] | None) -> Tokens:
        try:
            return self._encode_frames([read_rgb(io.BytesIO(data))], self.config.fps, tokens)
        except InputError:
            pass
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".video") as handle:
            handle.write(data)
            handle.flush()
            return self.encode_file(handle.name, tokens=tokens)

    def _encode_frames(self, frames: Iterable[Any], source_fps: float, tokens: int | Sequence[int] | None, *,
                       progress: bool = False, resampled: bool = False, stats: dict[str, int] | None = None) -> Tokens:
        """The causal loop: one frame at a time, the previous decoded frame as context."""
        import torch
        from tqdm import tqdm

        stats = {} if stats is None else stats
        if not resampled:
            frames = _resample(frames, source_fps, self.config.fps, stats)
        counts = list(tokens) if isinstance(tokens, (list, tuple, np.ndarray)) else None
        fixed = None if counts is not None else self._check_count(tokens)
        placement: Placement | None = None
        previous = None
        codes: list[np.ndarray] = []
        bar = tqdm(desc="encoding frames", unit="frame", file=sys.stderr, disable=not (progress and sys.stderr.isatty()))
        for index, frame in enumerate(frames):
            image = self._as_rgb(frame)
            if placement is None:
                placement = place(*image.size)
            elif image.size != (placement.width, placement.height):
                raise InputError(f"frame {index} is {image.size[0]}x{image.size[1]}, frame 0 was "
                                 f"{placement.width}x{placement.height}: all frames of a clip must have one size")
            if index >= MAX_FRAMES:
                raise InputError(f"the clip is longer than {MAX_FRAMES} frames at {self.config.fps:g} fps; split it")
            if counts is not None:
                if index >= len(counts):
                    raise InputError(f"tokens lists {len(counts)} per-frame counts but the clip has more frames")
                count = self._check_count(counts[index])
            else:
                count = fixed
            array, _ = to_model_input(image, self.config.image_size)
            pixels = torch.from_numpy(np.array(array)).to(self.device).permute(2, 0, 1)[None].float().div(127.5).sub(1.0)
            indices, previous = self.model.encode_step(pixels, previous, count)
            previous = _as_decoded(previous)
            codes.append(indices[0].cpu().numpy().astype(np.int64))
            bar.update(1)
        bar.close()
        if placement is None:
            raise InputError("the clip has no frames: nothing to encode")
        if counts is not None and len(counts) != len(codes):
            raise InputError(f"tokens lists {len(counts)} per-frame counts for a clip of {len(codes)} frames")
        meta = self.base_meta()
        meta.update(placement.to_meta(), fps=float(source_fps), model_fps=float(self.config.fps),
                    model_size=self.config.image_size, max_tokens=self.max_tokens, frames=len(codes),
                    source_frames=int(stats.get("source_frames", len(codes))))
        lengths = [c.size for c in codes]
        if len(set(lengths)) == 1:
            return Tokens(np.stack(codes), meta)
        meta["frame_tokens"] = lengths
        return Tokens(np.concatenate(codes), meta)

    # -- decode -----------------------------------------------------------------------------
    def decode(self, tokens: Tokens) -> DecodedVideo:
        """Tokens -> a :class:`DecodedVideo` (frames made on demand; ``.numpy()`` for an array)."""
        return DecodedVideo(self, tokens)

    def _decode_model_frames(self, frames: list[np.ndarray]) -> Iterator[np.ndarray]:
        import torch

        previous = None
        for codes in frames:
            indices = torch.from_numpy(codes)[None].to(self.device)
            previous = _as_decoded(self.model.decode_step(indices, previous))
            yield previous[0].add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()

    def write_decoded(self, item: DecodedVideo, path: str | os.PathLike, *, force: bool = False) -> None:
        """Write a decoded clip atomically: .mp4/.mkv (lossless H.264 4:4:4), .y4m, .gif, or a folder
        (a path without a suffix) of PNG frames."""
        from tqdm import tqdm

        target = Path(path)
        suffix = target.suffix.lower()
        if suffix not in OUTPUT_SUFFIXES:
            raise InputError(f"cannot write {path}: use .mp4, .mkv, .y4m, .gif or a folder name (PNG frames)")
        frames = iter(tqdm(item, total=len(item), desc="decoding frames", unit="frame", file=sys.stderr,
                           disable=not sys.stderr.isatty()))
        if suffix == "":
            self._write_png_folder(frames, target, force=force)
            return
        check_writable(target, force=force)
        # written beside the target under a temporary name (PyAV needs a path with the right suffix), then renamed
        staging = target.with_name(f".{target.name}.partial{os.getpid()}{suffix}")
        try:
            write_video(frames, staging, item.fps, item.width, item.height)
            os.replace(staging, target)
        finally:
            if staging.exists():
                staging.unlink()

    @staticmethod
    def _write_png_folder(frames: Iterator[np.ndarray], folder: Path, *, force: bool) -> None:
        import shutil
        import tempfile

        if folder.exists() and not (folder.is_dir() and (force or not any(folder.iterdir()))):
            raise InputError(f"{folder} exists and is not an empty folder; pass --force to replace it")
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            for index, frame in enumerate(frames):
                Image.fromarray(frame, "RGB").save(staging / f"frame{index:06d}.png")
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(staging, folder)
        finally:
            if staging.exists():
                shutil.rmtree(staging)

    def describe(self) -> dict[str, Any]:
        facts = super().describe()
        facts.update(image_size=self.config.image_size, fps=self.config.fps, max_tokens=self.config.num_tokens,
                     bits_per_token=self.config.bits_per_token, quantizer=self.config.quantizer,
                     parameters=sum(p.numel() for p in self.model.parameters()))
        return facts

    # -- internals --------------------------------------------------------------------------
    @staticmethod
    def _as_rgb(frame: Any) -> Image.Image:
        if isinstance(frame, Image.Image):
            return to_rgb(frame)
        if isinstance(frame, np.ndarray):
            return from_array(frame)
        raise InputError(f"a frame must be a numpy array or a Pillow image, got {type(frame).__name__}")

    def _check_codes(self, tokens: Tokens) -> tuple[list[np.ndarray], Placement, float]:
        self.check_tokens(tokens)
        meta = tokens.meta
        codes = np.asarray(tokens.codes)
        try:
            fps = float(meta.get("fps", self.config.fps))
        except (TypeError, ValueError):
            raise InputError("the video tokens carry an invalid fps") from None
        if not 0.01 <= fps <= 1000:
            raise InputError(f"the video tokens carry an impossible frame rate {fps}")
        if codes.size and (codes.min() < 0 or codes.max() >= self.codebook_size):
            raise InputError(f"video codes must lie in [0, {self.codebook_size}); these tokens are corrupted")
        lengths = meta.get("frame_tokens")
        if lengths is None:
            if codes.ndim != 2 or not 1 <= codes.shape[1] <= self.max_tokens or not 1 <= codes.shape[0] <= MAX_FRAMES:
                raise InputError(f"video tokens must be (frames, K) with 1 <= K <= {self.max_tokens}, got {codes.shape}")
            frames = [row.astype(np.int64) for row in codes]
        else:
            if not isinstance(lengths, list) or not all(isinstance(n, int) and 1 <= n <= self.max_tokens for n in lengths) \
                    or codes.ndim != 1 or sum(lengths) != codes.size or not 1 <= len(lengths) <= MAX_FRAMES:
                raise InputError("the video tokens' frame_tokens do not match their codes; the file is corrupted")
            frames = [part.astype(np.int64) for part in np.split(codes, np.cumsum(lengths)[:-1])]
        return frames, Placement.from_meta(meta), fps


def _as_decoded(frames):
    """Round the context to 8-bit pixels, as the decoder sees it when frames are written and read back."""
    return frames.add(1.0).mul(127.5).round().div(127.5).sub(1.0)


def _resample(frames: Iterable[Any], source_fps: float, fps: float, stats: dict[str, int]) -> Iterator[Any]:
    """The reader's rule for in-memory frames: output frame i shows the latest source frame with time <= i / fps
    (``stats["source_frames"]`` counts the frames read)."""
    emitted = 0
    last = None
    count = 0
    for index, frame in enumerate(frames):
        stats["source_frames"] = index + 1
        while last is not None and emitted / fps < index / source_fps - 1e-6:
            yield last
            emitted += 1
        last = frame
        count = index + 1
    if last is None:
        return
    while emitted == 0 or emitted / fps < count / source_fps - 1e-6:
        yield last
        emitted += 1


def load_saved(directory: str | os.PathLike, config: dict, *, device: str = "auto") -> VideoTokenizer:
    """Registry loader for saved "video.causal" folders."""
    from tokkit.codecs.video.config import VideoCodecConfig
    from tokkit.nn.weights import load_weights

    return VideoTokenizer(load_weights(VideoCodecModel(VideoCodecConfig.from_dict(config)), directory), device=device)
