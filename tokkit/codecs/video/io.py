"""Reading any video (or still image) as RGB frames at the model's frame rate, and writing decoded frames.

Policy (documented for users):

- Frame rate: the clip is resampled to the model's ``fps`` (16) by time stamps: output frame i shows the
  latest source frame whose presentation time is <= i / fps (frames are repeated or dropped; this rule
  only looks backwards, so cutting a clip cuts its resampled frames). Variable-frame-rate files follow
  the same rule. Containers with a coarse clock round time stamps (mkv and webm count milliseconds: frame 1
  of a 16 fps clip is stamped 63 ms, not 62.5), so a frame stamped less than half a clock unit (at most
  1 ms) after a tick counts as at the tick. The source's average frame rate is recorded and restored on
  decode the same way.
- Size: each frame goes through the image tokenizer's policy (tokkit.codecs.image.io): edge padding
  until the aspect ratio is at most 1.5, then a resize to the model's square; decode restores the exact
  width and height.
- Frames larger than ``MAX_PIXELS`` are refused (bounded memory); alpha is composited over white;
  still images and GIFs are videos too (a picture is a one-frame clip).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from tokkit.errors import InputError, UnsupportedFormatError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".y4m", ".gif", ".m4v", ".ogv")
OUTPUT_SUFFIXES = (".mp4", ".mkv", ".y4m", ".gif", "")  # "" = a folder of PNG frames
MAX_PIXELS = 8192 * 8192


@dataclass(frozen=True)
class SourceInfo:
    """What the reader learned about a file: frame size and average frame rate."""

    width: int
    height: int
    fps: float


def _frame_time(frame, index: int, rate: float) -> float:
    if frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * frame.time_base)
    return index / rate


def probe(path: str | os.PathLike) -> SourceInfo:
    """Width, height and average frame rate of a video file (clear errors for anything else)."""
    container = _open(path)
    try:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        return SourceInfo(int(stream.codec_context.width), int(stream.codec_context.height), rate)
    finally:
        container.close()


def _open(path: str | os.PathLike):
    import av

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise UnsupportedFormatError(f"{path} is not a video FFmpeg can read ({exc.__class__.__name__}); "
                                     f"use mp4, avi, mkv, webm, y4m or gif") from None
    if not container.streams.video:
        container.close()
        raise UnsupportedFormatError(f"{path} has no video stream")
    return container


def read_frames(path: str | os.PathLike, fps: float, *, start_frame: int = 0,
                stats: dict[str, int] | None = None) -> Iterator[np.ndarray]:
    """Frames (H, W, 3) uint8 of a video file resampled to ``fps`` (the module's rule), from output frame
    ``start_frame`` on; a corrupt stream raises InputError naming the frame. ``stats["source_frames"]``
    counts the source frames decoded."""
    import av

    container = _open(path)
    try:
        stream = container.streams.video[0]
        width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
        if width * height > MAX_PIXELS:
            raise InputError(f"{path} has {width}x{height} frames, larger than the {MAX_PIXELS} pixels "
                             "tokkit decodes safely; downscale it first")
        rate = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        # slack for stamps the container rounded to its clock (see the module's policy)
        slack = min(0.5 * float(stream.time_base or 0), 1e-3) + 1e-6
        stream.thread_type = "AUTO"
        last: np.ndarray | None = None
        origin: float | None = None
        emitted = 0
        index = -1
        try:
            for index, frame in enumerate(container.decode(stream)):
                if frame.width * frame.height > MAX_PIXELS:
                    raise InputError(f"{path} has {frame.width}x{frame.height} frames, larger than the "
                                     f"{MAX_PIXELS} pixels tokkit decodes safely; downscale it first")
                stamp = _frame_time(frame, index, rate)
                origin = stamp if origin is None else origin
                stamp -= origin
                # every output frame before this frame's time shows the previous source frame
                while last is not None and emitted / fps < stamp - slack:
                    if emitted >= start_frame:
                        yield last
                    emitted += 1
                last = frame.to_ndarray(format="rgb24")
                if stats is not None:
                    stats["source_frames"] = index + 1
                last_stamp = stamp
        except av.error.FFmpegError as exc:
            raise InputError(f"{path} is damaged after source frame {index + 1}: {exc}") from None
        if last is None:
            raise InputError(f"{path} has no decodable frames")
        end = last_stamp + 1.0 / rate
        while emitted == 0 or emitted / fps < end - slack:
            if emitted >= start_frame:
                yield last
            emitted += 1
    finally:
        container.close()


def write_video(frames: Iterator[np.ndarray], path: str | os.PathLike, fps: float, width: int, height: int) -> int:
    """Write RGB frames (H, W, 3) uint8 to ``path``: .mp4/.mkv (H.264 4:4:4, CRF 0), .y4m (raw 4:4:4), .gif;
    any width and height (4:4:4 needs no even sides); the caller makes it atomic. Returns the frame count."""
    import av

    suffix = Path(path).suffix.lower()
    rate = Fraction(fps).limit_denominator(1001)
    count = 0
    if suffix == ".gif":
        from PIL import Image

        images = [Image.fromarray(f, "RGB") for f in frames]
        if not images:
            raise InputError("no frames to write")
        images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                       duration=max(20, round(1000 / fps)), loop=0)
        return len(images)
    fmt = {".mp4": "mp4", ".mkv": "matroska", ".y4m": "yuv4mpegpipe"}[suffix]
    with av.open(str(path), mode="w", format=fmt) as container:
        if suffix == ".y4m":
            stream = container.add_stream("rawvideo", rate=rate)
            stream.pix_fmt = "yuv444p"
        else:
            stream = container.add_stream("libx264", rate=rate)
            stream.pix_fmt = "yuv444p"
            stream.options = {"crf": "0", "preset": "veryfast"}
        stream.width, stream.height = width, height
        for array in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")):
                container.mux(packet)
            count += 1
        for packet in stream.encode():
            container.mux(packet)
    return count
