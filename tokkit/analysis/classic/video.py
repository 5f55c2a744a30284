"""x264, x265, VP9 and SVT-AV1 (FFmpeg's libraries through PyAV, in process) as anchors for video
tokenizers: the whole clip as one GOP (one key frame), 4:2:0, a CRF sweep at full size and downscaled
(upscaled back, bicubic). Bytes = all packets plus codec extradata (no container)."""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Iterator

import numpy as np
from PIL import Image

from tokkit.analysis.classic import Coded
from tokkit.analysis.image_metrics import clip_scores

os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1: errors only

CODECS = {  # name: (encoder, decoder, CRF values, encoder options) -- FFmpeg's libraries through PyAV
    "x264": ("libx264", "h264", (18, 24, 28, 32, 36, 40, 44, 48, 51),
             {"preset": "slow", "x264-params": "keyint=infinite:scenecut=0"}),
    "x265": ("libx265", "hevc", (18, 24, 28, 32, 36, 40, 44, 48, 51),
             {"preset": "medium", "x265-params": "keyint=-1:scenecut=0:log-level=none"}),
    "VP9": ("libvpx-vp9", "vp9", (20, 30, 38, 44, 50, 54, 58, 63), {"b": "0", "cpu-used": "4", "row-mt": "0"}),
    "SVT-AV1": ("libsvtav1", "libdav1d", (20, 30, 38, 44, 50, 54, 58, 63), {"preset": "8"}),
}
#: frame sides tried, relative to the clip's (rounded to even pixels)
SCALES = (1.0, 0.75, 0.5)


def available() -> dict[str, str | None]:
    """Codec -> None when this PyAV/FFmpeg has its encoder and decoder, else why it is skipped."""
    try:
        import av
    except ImportError:
        return {name: "PyAV is not installed (pip install av)" for name in CODECS}
    out: dict[str, str | None] = {}
    for name, (encoder, decoder, _, _) in CODECS.items():
        try:
            av.codec.Codec(encoder, "w"), av.codec.Codec(decoder, "r")
            out[name] = None
        except Exception:  # noqa: BLE001 - PyAV raises several kinds for an unknown codec
            out[name] = f"this FFmpeg has no {encoder} encoder or {decoder} decoder"
    return out


def code_clip(frames: np.ndarray, encoder: str, decoder: str, crf: int, options: dict) -> tuple[int, np.ndarray] | None:
    """Encode (T, h, w, 3) uint8 as one GOP in 4:2:0 at ``crf``; (payload bytes, decoded frames) or None."""
    import av
    from fractions import Fraction

    try:
        enc = av.CodecContext.create(encoder, "w")
        enc.width, enc.height, enc.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        enc.time_base, enc.framerate, enc.gop_size = Fraction(1, 16), Fraction(16), 100000
        enc.thread_count = 1
        enc.options = {"crf": str(crf), **options}
        packets = []
        for index, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24").reformat(format="yuv420p")
            frame.pts = index
            packets.extend(enc.encode(frame))
        packets.extend(enc.encode(None))
        payload = sum(packet.size for packet in packets) + len(enc.extradata or b"")
        dec = av.CodecContext.create(decoder, "r")
        if enc.extradata:
            dec.extradata = enc.extradata
        decoded = []
        for packet in packets:
            decoded.extend(dec.decode(packet))
        decoded.extend(dec.decode(None))
    except (av.error.FFmpegError, ValueError) as exc:
        print(f"  {encoder} crf {crf} at {frames.shape[2]} px failed: {exc}", file=sys.stderr)
        return None
    if len(decoded) != len(frames):
        return None
    return payload, np.stack([f.to_ndarray(format="rgb24") for f in decoded])


def _resize(clip: np.ndarray, width: int, height: int, method: Image.Resampling) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), method)) for f in clip])


def ladder(name: str, clip: np.ndarray, scales: tuple[float, ...] = SCALES) -> Iterator[Coded]:
    """Every (scale, CRF) setting of codec ``name`` on a (T, H, W, 3) uint8 clip; decoded at the clip's size."""
    encoder, decoder, qualities, options = CODECS[name]
    height, width = clip.shape[1:3]
    for scale in scales:
        w, h = max(2, 2 * round(width * scale / 2)), max(2, 2 * round(height * scale / 2))
        if name == "x265" and 48 in (w, h):  # libx265 corrupts its heap on 48x48 input here (glibc aborts)
            continue
        small = clip if (w, h) == (width, height) else _resize(clip, w, h, Image.Resampling.LANCZOS)
        for quality in qualities:
            started = time.perf_counter()
            coded = code_clip(small, encoder, decoder, quality, options)
            if coded is None:
                continue
            payload, decoded = coded
            if (w, h) != (width, height):
                decoded = _resize(decoded, width, height, Image.Resampling.BICUBIC)
            # code_clip encodes and decodes in one go: the time is both together (encode_s), decode_s is unknown
            yield Coded(payload, decoded, f"crf {quality} at {w}x{h}", time.perf_counter() - started, math.nan,
                        {"scale": w, "quality": quality})


def classic(clip: np.ndarray, name: str, scales: tuple[float, ...] = SCALES) -> list[dict]:
    """Every (scale, quality) setting of one codec on one clip: bytes per frame and scores."""
    frames = clip.shape[0]
    results = []
    for coded in ladder(name, clip, scales):
        results.append({"bytes": coded.bytes / frames, **coded.params,
                         **clip_scores(clip, coded.decoded)})
    return results


def best_within(settings: list[dict], budget: float) -> dict | None:
    """The best-PSNR setting whose bytes fit ``budget``, or None."""
    fitting = [s for s in settings if s["bytes"] <= budget]
    return max(fitting, key=lambda s: s["psnr"]) if fitting else None
