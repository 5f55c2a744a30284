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
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Iterator, Sequence

import numpy as np
from PIL import Image

from tokkit.codecs.image.io import IMAGE_SUFFIXES, Placement, from_array, from_model_output, place, read_rgb, \
    to_model_input, to_rgb
from tokkit.codecs.video.config import KIND
from tokkit.codecs.video.io import OUTPUT_SUFFIXES, VIDEO_SUFFIXES, probe, read_frames, write_video
from tokkit.core.atomic import check_writable
from tokkit.core.meta import Float, Int, IntList
from tokkit.codecs.model_tokenizer import ModelTokenizer
from tokkit.core.tokenizer import Option
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError

if TYPE_CHECKING:
    from tokkit.codecs.video.model import VideoCodecModel

#: the longest clip (in model frames) a token file may describe: 24 hours at 16 fps
MAX_FRAMES = 24 * 3600 * 16


class DecodedVideo:
    """A decoded clip, produced frame by frame (bounded memory): iterate for RGB frames (H, W, 3) uint8
    at the source's size and frame rate; ``numpy()`` collects them; ``model_frames()`` yields the
    model's own (S, S, 3) frames at the model's frame rate."""

    def __init__(self, tokenizer: "VideoTokenizer", tokens: Tokens | np.ndarray | Sequence[int]) -> None:
        self._tokenizer = tokenizer
        self._frames, self.placement, self.source_fps = tokenizer._check_codes(tokens)
        self.width, self.height = self.placement.width, self.placement.height
        self.fps = self.source_fps
        count = tokens.meta.get("source_frames") if isinstance(tokens, Tokens) else None
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

    def __eq__(self, other: object) -> bool:
        """Same frame rate and the same frames, pixel for pixel (decodes both)."""
        if not isinstance(other, DecodedVideo):
            return NotImplemented
        return self.fps == other.fps and np.array_equal(self.numpy(), other.numpy())

    __hash__ = None  # type: ignore[assignment]


class VideoTokenizer(ModelTokenizer):
    """Causal video tokenizer: ``encode`` a clip -> per-frame codes; ``decode`` -> :class:`DecodedVideo`.

    ``device`` is "auto", "cpu" or "cuda".
    """

    modality: ClassVar[str] = "video"
    kind: ClassVar[str] = KIND
    input_suffixes: ClassVar[tuple[str, ...]] = VIDEO_SUFFIXES + tuple(s for s in IMAGE_SUFFIXES if s != ".gif")
    output_suffix: ClassVar[str] = ".mp4"
    meta_schema: ClassVar[dict] = {
        "image_size": IntList(2, 1, 1 << 20), "padded_size": IntList(2, 1, 1 << 20),
        "fps": Float(0.01, 1000.0), "model_fps": Float(0.01, 1000.0), "frames": Int(1, MAX_FRAMES),
        "source_frames": Int(1, 1 << 31), "model_size": Int(1), "max_tokens": Int(1),
    }
    options: ClassVar[tuple[Option, ...]] = (
        Option("tokens", int, None, "keep the first K tokens of every frame (fewer tokens, coarser frames, "
               "smaller file); default: all N", low=1, high="max_tokens", metavar="K"),
        Option("frame_tokens", str, None, "one K per frame, comma-separated (e.g. 40,8,8,8); the file records "
               "the per-frame lengths; overrides --tokens", metavar="LIST"),
    )

    def __init__(self, model: "VideoCodecModel", *, device: str = "auto") -> None:
        super().__init__(model, device=device)

    @property
    def max_tokens(self) -> int:
        """N: the most tokens one frame can have."""
        return self.config.num_tokens

    def save(self, directory: str | os.PathLike) -> Path:
        from tokkit.nn.weights import save_weights

        return save_weights(self.model, directory)

    def example_inputs(self, count: int = 3, seed: int = 0) -> list[np.ndarray]:
        """``count`` small synthetic clips (T, H, W, 3) uint8 of different lengths and sizes (a panning pattern)."""
        rng = np.random.default_rng(seed)
        clips = []
        for index in range(count):
            frames, height, width = 2 + index, 20 + 6 * index, 32 - 4 * index
            y, x = np.mgrid[0:height, 0:width] / max(height, width)
            clip = [np.stack([np.sin(5 * (x + 0.1 * t)), np.cos(4 * y + t), x * y], axis=-1) * 0.4 + 0.5
                    + 0.03 * rng.random((height, width, 3)) for t in range(frames)]
            clips.append((np.clip(np.stack(clip), 0, 1) * 255).astype(np.uint8))
        return clips

    # -- encode -----------------------------------------------------------------------------
    def encode(self, item: Any, *, tokens: int | None = None, frame_tokens: str | None = None) -> Tokens:
        """Encode a clip: a video or image file path, file bytes, a numpy array (T, H, W, 3) or (H, W, 3)
        uint8, a Pillow image, or an iterable of frames (at the model's 16 fps; :meth:`encode_frames` takes
        another rate). ``tokens``: K for every frame (default N); ``frame_tokens``: "K0,K1,..." one per frame."""
        counts = self._counts(tokens, frame_tokens)
        if isinstance(item, (str, os.PathLike)):
            return self.encode_file(item, tokens=tokens, frame_tokens=frame_tokens)
        if isinstance(item, (bytes, bytearray, memoryview)):
            return self._encode_bytes(bytes(item), counts)
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
        return self._encode_frames(frames, self.config.fps, counts)

    def encode_frames(self, frames: Iterable[Any], fps: float, *, tokens: int | Sequence[int] | None = None) -> Tokens:
        """Encode frames (arrays or Pillow images) given at ``fps`` frames per second; ``tokens`` is one K
        or a list with one K per frame (after resampling to the model's rate)."""
        if not 0.01 <= fps <= 1000:
            raise InputError(f"fps must lie in [0.01, 1000], got {fps}")
        counts = list(tokens) if isinstance(tokens, (list, tuple, np.ndarray)) else self._check_count(tokens)
        return self._encode_frames(frames, float(fps), counts)

    def encode_file(self, path: str | os.PathLike, *, tokens: int | None = None, frame_tokens: str | None = None) -> Tokens:
        """Read a video (mp4, avi, mkv, webm, y4m, gif, ...) or a still image (a one-frame clip) and encode it."""
        counts = self._counts(tokens, frame_tokens)
        suffix = Path(path).suffix.lower()
        if suffix in IMAGE_SUFFIXES and suffix != ".gif":
            return self._encode_frames([read_rgb(path)], self.config.fps, counts)
        info = probe(path)
        stats: dict[str, int] = {}
        frames = read_frames(path, self.config.fps, stats=stats)
        return self._encode_frames(frames, info.fps, counts, progress=True, resampled=True, stats=stats)

    def _counts(self, tokens: int | None, frame_tokens: str | None) -> int | list[int]:
        if frame_tokens is None:
            return self._check_count(tokens)
        try:
            return [int(part) for part in str(frame_tokens).split(",")]
        except ValueError:
            raise InputError(f"frame_tokens must be comma-separated integers, got {frame_tokens!r}") from None

    def _check_count(self, tokens: Any) -> int:
        if tokens is None:
            return self.max_tokens
        if isinstance(tokens, bool) or not isinstance(tokens, (int, np.integer)) or not 1 <= tokens <= self.max_tokens:
            raise InputError(f"tokens must be an integer from 1 to {self.max_tokens} (this model's N), got {tokens!r}")
        return int(tokens)

    def _encode_bytes(self, data: bytes, counts: int | list[int]) -> Tokens:
        try:
            return self._encode_frames([read_rgb(io.BytesIO(data))], self.config.fps, counts)
        except InputError:
            pass
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".video") as handle:
            handle.write(data)
            handle.flush()
            stats: dict[str, int] = {}
            frames = read_frames(handle.name, self.config.fps, stats=stats)
            return self._encode_frames(frames, probe(handle.name).fps, counts, resampled=True, stats=stats)

    def _encode_frames(self, frames: Iterable[Any], source_fps: float, tokens: int | list[int], *,
                       progress: bool = False, resampled: bool = False, stats: dict[str, int] | None = None) -> Tokens:
        """The causal loop: one frame at a time, the previous decoded frame as context."""
        import torch
        from tqdm import tqdm

        stats = {} if stats is None else stats
        if not resampled:
            frames = _resample(frames, source_fps, self.config.fps, stats)
        counts = tokens if isinstance(tokens, list) else None
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
    def decode(self, tokens: Tokens | np.ndarray | Sequence[int]) -> DecodedVideo:
        """Tokens (or a bare (frames, K) code array) -> a :class:`DecodedVideo` (frames made on demand;
        ``.numpy()`` for an array)."""
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
                     prediction=self.config.prediction, parameters=sum(p.numel() for p in self.model.parameters()))
        return facts

    # -- internals --------------------------------------------------------------------------
    @staticmethod
    def _as_rgb(frame: Any) -> Image.Image:
        if isinstance(frame, Image.Image):
            return to_rgb(frame)
        if isinstance(frame, np.ndarray):
            return from_array(frame)
        raise InputError(f"a frame must be a numpy array or a Pillow image, got {type(frame).__name__}")

    def _check_codes(self, tokens: Tokens | np.ndarray | Sequence[int]) -> tuple[list[np.ndarray], Placement, float]:
        """Tokens (checked) or a bare (frames, K) integer array (decoded at the model's size and frame rate)."""
        codes, meta = self.codes_and_meta(tokens)
        codes = np.asarray(codes)
        if codes.ndim == 1 and "frame_tokens" not in meta:
            codes = codes[None]
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
        if "image_size" not in meta:
            size = self.config.image_size
            return frames, Placement(size, size, size, size), fps
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
    from tokkit.codecs.video.model import VideoCodecModel
    from tokkit.core.device import resolve_device
    from tokkit.nn.weights import load_weights

    device = resolve_device(device)
    return VideoTokenizer(load_weights(VideoCodecModel(VideoCodecConfig.from_dict(config)), directory), device=device)
