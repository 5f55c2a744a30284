"""``CosmosVideoTokenizer``: an NVIDIA Cosmos causal video tokenizer (DV) behind tokkit's video interface.

A clip becomes a (t, h, w) grid of FSQ codes: h x w tokens per latent frame, one per s x s pixels; the
first latent frame codes frame 0 alone, each later one ``T`` (temporal compression) frames. Policy:

- Frame rate: the clip keeps its own (average) frame rate: frames are read as they are, and decoding
  writes them back at that rate.
- Size: every frame is coded with its longer side at most ``size`` pixels (default 1024; larger clips
  are downscaled, aspect kept), extended right and down to multiples of s by repeating edge pixels; decode
  crops and restores the original size (as :class:`tokkit.codecs.image.published.cosmos.CosmosImageTokenizer`).
- Length: the clip is cut into windows of ``window`` frames (default 1 + 2T: 9 frames for DV4x8x8,
  17 for DV8x*), each coded on its own (causal: its first frame alone), so memory is bounded by one window
  whatever the clip's length. A window of n frames needs 1 + kT frames: when n - 1 is not a multiple of
  T (only the clip's last window), its last frame is repeated up to the next 1 + kT and the repeats are
  dropped on decode. A window of n frames gives 1 + ceil((n - 1) / T) latent frames; the tokens record
  the frame count and the window, from which decode restores every window's length.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator, Sequence

import numpy as np
from PIL import Image

from tokkit.codecs.image.io import IMAGE_SUFFIXES, read_rgb, to_rgb
from tokkit.codecs.image.published.cosmos import MAX_SIDE, SIZE_OPTION, coded_size, from_canvas, grid_for, to_canvas
from tokkit.codecs.model_tokenizer import ModelTokenizer
from tokkit.codecs.published import PublishedWeights
from tokkit.codecs.video.io import probe, read_frames
from tokkit.codecs.video.tokenizer import DecodedVideo, VideoTokenizer
from tokkit.core.meta import Float, Int, IntList, bad_field
from tokkit.core.tokenizer import Option
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError

KIND = "video.published_cosmos"
#: frame rate of bare code arrays (no metadata) and of in-memory frames given without one
DEFAULT_FPS = 24.0
MAX_FRAMES = 24 * 3600 * 60  # 24 hours at 60 fps
MAX_WINDOW = 1 + 8 * 64


class CosmosDecodedVideo(DecodedVideo):
    """A decoded clip, made window by window (bounded memory): iterate for RGB frames (H, W, 3) uint8 at the
    original size; ``fps`` is the source's frame rate; ``numpy()`` collects them; ``model_frames()`` yields
    the decoder's own frames (the coded canvas, before cropping and resizing)."""

    def __init__(self, tokenizer: "CosmosVideoTokenizer", tokens: Tokens | np.ndarray | Sequence[int]) -> None:
        self._tokenizer = tokenizer  # type: ignore[assignment]
        self._windows, self._coded, size, self.fps = tokenizer._check_grid(tokens)
        self.width, self.height = size
        self.source_fps = self.fps

    def model_frames(self) -> Iterator[np.ndarray]:
        """The decoder's frames (H', W', 3) uint8, window after window."""
        for codes, frames in self._windows:
            yield from self._tokenizer._decode_window(codes, frames)

    def __len__(self) -> int:
        return sum(frames for _, frames in self._windows)

    def __iter__(self) -> Iterator[np.ndarray]:
        for array in self.model_frames():
            yield np.asarray(from_canvas(array, self._coded, (self.width, self.height)))


class CosmosVideoTokenizer(PublishedWeights, ModelTokenizer):
    """Cosmos DV: ``encode`` a clip -> (t, h, w) codes; ``decode`` -> :class:`CosmosDecodedVideo`.

    ``device`` is "auto", "cpu" or "cuda".
    """

    modality, output_suffix, input_suffixes = VideoTokenizer.modality, VideoTokenizer.output_suffix, VideoTokenizer.input_suffixes
    kind: ClassVar[str] = KIND
    meta_schema: ClassVar[dict] = {
        "image_size": IntList(2, 1, 1 << 20, required=True), "coded_size": IntList(2, 1, MAX_SIDE, required=True),
        "fps": Float(0.01, 1000.0, required=True), "frames": Int(1, MAX_FRAMES, required=True),
        "window": Int(2, MAX_WINDOW, required=True),
    }
    options: ClassVar[tuple[Option, ...]] = (
        SIZE_OPTION,
        Option("window", int, None, "frames coded together (each window's first frame is coded alone; memory "
               "grows with it); must be 1 + a multiple of the temporal compression T; default 1 + 2T",
               low=2, high=MAX_WINDOW, metavar="FRAMES"),
    )

    @property
    def frames_per_token(self) -> int:
        """T: frames per latent frame after the first."""
        return self.config.temporal_compression

    def save(self, directory: str | os.PathLike) -> Path:
        return PublishedWeights.save(self, directory)

    example_inputs = VideoTokenizer.example_inputs  # small synthetic clips of different lengths and sizes

    # -- encode -----------------------------------------------------------------------------
    def encode(self, item: Any, *, size: int | None = None, window: int | None = None) -> Tokens:
        """Encode a clip: a video or image file path, a numpy array (T, H, W, 3) or (H, W, 3) uint8, a Pillow
        image, a decoded clip, or an iterable of frames (at :data:`DEFAULT_FPS` unless it has an ``fps``)."""
        if isinstance(item, (str, os.PathLike)):
            return self.encode_file(item, size=size, window=window)
        if isinstance(item, Image.Image):
            frames: Iterable[Any] = [to_rgb(item)]
        elif isinstance(item, np.ndarray):
            frames = [item] if item.ndim == 2 or (item.ndim == 3 and item.shape[-1] in (1, 3, 4) and item.shape[0] > 4) \
                else list(item)
        elif isinstance(item, Iterable) and not isinstance(item, (bytes, bytearray, dict, str)):
            frames = item
        else:
            raise InputError(f"cannot encode a {type(item).__name__}: pass a file path, a numpy array (T, H, W, 3), "
                             "a Pillow image or an iterable of frames")
        fps = float(getattr(item, "fps", DEFAULT_FPS))
        return self._encode_frames(frames, fps, size, window)

    def encode_frames(self, frames: Iterable[Any], fps: float, *, size: int | None = None,
                      window: int | None = None) -> Tokens:
        """Encode frames (arrays or Pillow images) shown at ``fps`` frames per second."""
        if not 0.01 <= fps <= 1000:
            raise InputError(f"fps must lie in [0.01, 1000], got {fps}")
        return self._encode_frames(frames, float(fps), size, window)

    def encode_file(self, path: str | os.PathLike, *, size: int | None = None, window: int | None = None) -> Tokens:
        """Read a video (mp4, avi, mkv, webm, y4m, gif, ...) or a still image (a one-frame clip) and encode it."""
        suffix = Path(path).suffix.lower()
        if suffix in IMAGE_SUFFIXES and suffix != ".gif":
            return self._encode_frames([read_rgb(path)], DEFAULT_FPS, size, window)
        info = probe(path)
        return self._encode_frames(read_frames(path, info.fps), info.fps, size, window, progress=True)

    def _window(self, window: int | None) -> int:
        step = self.frames_per_token
        if window is None:
            return 1 + 2 * step
        if (window - 1) % step:
            raise InputError(f"window must be 1 + a multiple of {step} (this model's temporal compression), "
                             f"e.g. {1 + step} or {1 + 2 * step}; got {window}")
        return window

    def _encode_frames(self, frames: Iterable[Any], fps: float, size: int | None, window: int | None, *,
                       progress: bool = False) -> Tokens:
        from tqdm import tqdm

        window = self._window(window)
        step = self.frames_per_token
        factor = self.config.spatial_compression
        original: tuple[int, int] | None = None
        coded = (0, 0)
        pending: list[np.ndarray] = []
        parts: list[np.ndarray] = []
        total = 0
        bar = tqdm(desc="encoding frames", unit="frame", file=sys.stderr, disable=not (progress and sys.stderr.isatty()))
        for index, frame in enumerate(frames):
            image = self._as_rgb(frame)
            if original is None:
                original = image.size
                coded = coded_size(*image.size, size)
            elif image.size != original:
                raise InputError(f"frame {index} is {image.size[0]}x{image.size[1]}, frame 0 was "
                                 f"{original[0]}x{original[1]}: all frames of a clip must have one size")
            if index >= MAX_FRAMES:
                raise InputError(f"the clip is longer than {MAX_FRAMES} frames; split it")
            pending.append(to_canvas(image, coded, factor))
            total += 1
            if len(pending) == window:
                parts.append(self._encode_window(pending))
                pending = []
            bar.update(1)
        bar.close()
        if original is None:
            raise InputError("the clip has no frames: nothing to encode")
        if pending:
            needed = 1 + step * -(-(len(pending) - 1) // step)
            parts.append(self._encode_window(pending + [pending[-1]] * (needed - len(pending))))
        meta = self.base_meta()
        meta.update(image_size=list(original), coded_size=list(coded), fps=float(fps), frames=total, window=window)
        return Tokens(np.concatenate(parts), meta)

    def _encode_window(self, canvases: list[np.ndarray]) -> np.ndarray:
        """(1 + kT) canvases (H, W, 3) uint8 -> codes (1 + k, h, w)."""
        import torch

        pixels = torch.from_numpy(np.stack(canvases)).to(self.device).permute(3, 0, 1, 2)[None]
        return self.model.encode(pixels.float().div(127.5).sub(1.0))[0].cpu().numpy().astype(np.int64)

    # -- decode -----------------------------------------------------------------------------
    def decode(self, tokens: Tokens | np.ndarray | Sequence[int]) -> CosmosDecodedVideo:
        """Tokens (or a bare (t, h, w) code array: one window of 1 + (t - 1)T frames at the coded size and
        :data:`DEFAULT_FPS`) -> a :class:`CosmosDecodedVideo` (frames made on demand)."""
        return CosmosDecodedVideo(self, tokens)

    def _decode_window(self, codes: np.ndarray, frames: int) -> Iterator[np.ndarray]:
        import torch

        pixels = self.model.decode(torch.from_numpy(codes)[None].to(self.device))[0, :, :frames]
        arrays = pixels.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 3, 0).cpu().numpy()
        yield from arrays

    def _windows(self, frames: int, window: int) -> list[tuple[int, int]]:
        """(latent frames, frames) of every window of a clip of ``frames`` frames."""
        step = self.frames_per_token
        out = [(1 + (window - 1) // step, window)] * (frames // window)
        if frames % window:
            out.append((1 + -(-(frames % window - 1) // step), frames % window))
        return out

    def validate_meta(self, tokens: Tokens) -> None:
        """The window fits the model, the coded size the grid, and the frame count the latent frames."""
        meta = tokens.meta
        width, height = meta["image_size"]
        coded = meta["coded_size"]
        if coded[0] > width or coded[1] > height:
            raise bad_field("coded_size", coded, f"at most the image_size {[width, height]}")
        if (meta["window"] - 1) % self.frames_per_token:
            raise bad_field("window", meta["window"], f"1 + a multiple of {self.frames_per_token}")
        columns, rows = grid_for(coded[0], coded[1], self.config.spatial_compression)
        latent = sum(t for t, _ in self._windows(meta["frames"], meta["window"]))
        if tokens.codes.shape != (latent, rows, columns):
            raise bad_field("frames", meta["frames"], f"a clip whose codes are {tokens.codes.shape}, "
                            f"not {(latent, rows, columns)}")

    def _check_grid(self, tokens: Tokens | np.ndarray | Sequence[int]):
        codes, meta = self.codes_and_meta(tokens)
        factor = self.config.spatial_compression
        limit = MAX_SIDE // factor
        if codes.ndim != 3 or not (1 <= codes.shape[1] <= limit and 1 <= codes.shape[2] <= limit) \
                or not 1 <= codes.shape[0] <= MAX_FRAMES:
            raise InputError(f"Cosmos video tokens must be a (t, h, w) grid with h, w in 1..{limit}, got shape {codes.shape}")
        if codes.min() < 0 or codes.max() >= self.codebook_size:
            raise InputError(f"video codes must lie in [0, {self.codebook_size}); these tokens are corrupted")
        if not isinstance(tokens, Tokens):
            full = (codes.shape[2] * factor, codes.shape[1] * factor)
            return [(codes, 1 + (codes.shape[0] - 1) * self.frames_per_token)], full, full, DEFAULT_FPS
        windows, start = [], 0
        for latent, frames in self._windows(meta["frames"], meta["window"]):
            windows.append((codes[start:start + latent], frames))
            start += latent
        return windows, tuple(meta["coded_size"]), tuple(meta["image_size"]), float(meta["fps"])

    # the clip writer of tokkit's own video tokenizer: it needs only len(), iteration, fps, width and height
    write_decoded = VideoTokenizer.write_decoded
    _write_png_folder = staticmethod(VideoTokenizer._write_png_folder)

    def describe(self) -> dict[str, Any]:
        facts = super().describe()
        c = self.config
        facts.update(model=c.name, spatial_compression=c.spatial_compression, temporal_compression=c.temporal_compression,
                     fsq_levels=list(c.levels), codebook_size=c.codebook_size, default_window=self._window(None),
                     parameters=sum(p.numel() for p in self.model.parameters()))
        return facts

    _as_rgb = staticmethod(VideoTokenizer._as_rgb)

    @classmethod
    def example_tokenizer(cls) -> "CosmosVideoTokenizer":
        """A tiny random-weight DV (for the contract tests)."""
        from tokkit.codecs.image.published.cosmos import example_model
        from tokkit.nn.cosmos import CosmosConfig

        config = CosmosConfig(name="cosmos_dv_tiny", video=True, patch_size=2, channels=16, channels_mult=(1, 1),
                              num_res_blocks=1, z_channels=8, spatial_compression=4, temporal_compression=2)
        return cls(example_model(config), device="cpu")
