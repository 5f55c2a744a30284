"""``AudioTokenizer``: the speech codec behind ``tokkit.load("audio")`` (one code per ``hop`` samples).

Audio of any rate is resampled to the model rate; tokens record the original rate and length so that
``decode`` gives back audio at that rate. Long inputs run through the network in windows with enough
context on each side that the result matches whole-file processing (bounded memory, no seams).
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Sequence

import numpy as np

from tokkit.codecs.audio.chunking import windows
from tokkit.codecs.audio.config import KIND
from tokkit.codecs.audio.io import (AUDIO_SUFFIXES, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, Audio, check_audio,
                                    check_sample_rate, load_audio, resample, write_wav)
from tokkit.core.meta import Float, Int, bad_field
from tokkit.codecs.model_tokenizer import ModelTokenizer
from tokkit.core.tokenizer import Option
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError

if TYPE_CHECKING:  # the model (torch) is imported when a codec is built, not when its options are read
    from tokkit.codecs.audio.model import CodecModel

CONTEXT_MARGIN = 4  # tokens of context beyond the computed reach, for safety
BATCH_TOKENS = 4000  # padded tokens per forward pass in encode_batch / decode_batch (bounds memory)
MIN_FILL = 0.8  # a window joins a batch only if it is at least this share of the batch's longest window


class AudioTokenizer(ModelTokenizer):
    """Neural speech codec: ``encode`` audio -> (T,) codes (FSQ) or (depth, T) codes (RVQ),
    T = ceil(samples / hop); ``decode`` the reverse.

    ``chunk_seconds`` bounds how much audio the network sees at once; ``device`` is "auto", "cpu" or "cuda".
    """

    modality: ClassVar[str] = "audio"
    kind: ClassVar[str] = KIND
    input_suffixes: ClassVar[tuple[str, ...]] = AUDIO_SUFFIXES
    output_suffix: ClassVar[str] = ".wav"
    meta_schema: ClassVar[dict] = {
        "sample_rate": Int(1, MAX_SAMPLE_RATE), "n_samples": Int(1), "hop": Int(1), "frame_rate": Float(0),
        "original_sample_rate": Int(MIN_SAMPLE_RATE, MAX_SAMPLE_RATE), "original_n_samples": Int(1),
        "duration": Float(0), "codebooks": Int(1), "kbps": Float(0),
    }
    options: ClassVar[tuple[Option, ...]] = (
        Option("codebooks", int, None, "residual codecs (audio, EnCodec, DAC, SNAC): keep the first N codebooks "
               "(fewer: lower bitrate); default: all", low=1, high="n_codebooks", metavar="N"),
        Option("bandwidth", float, None, "residual codecs: keep as many codebooks as KBPS allows (tokkit audio: "
               "0.8 per codebook; EnCodec 24 kHz: 1.5, 3, 6, 12 or 24); default: all", low=0.0, metavar="KBPS"),
    )

    def __init__(self, model: CodecModel, *, device: str = "auto", chunk_seconds: float = 20.0) -> None:
        super().__init__(model, device=device)
        self.chunk_tokens = max(1, round(chunk_seconds * self.config.frame_rate))
        self.n_codebooks = self.model.depth or 1

    def codebooks_for(self, codebooks: int | None = None, bandwidth: float | None = None) -> int:
        """How many residual levels to keep: ``codebooks``, or as many as ``bandwidth`` kbps allows; default all."""
        if codebooks is not None and bandwidth is not None:
            raise InputError("give either codebooks or bandwidth, not both")
        per = self.model.bitrate_of(1) / 1000
        if bandwidth is not None:
            if not bandwidth > 0:
                raise InputError(f"bandwidth must be a positive number of kbps, got {bandwidth}")
            codebooks = math.floor(bandwidth / per + 1e-9)
            if codebooks < 1:
                raise InputError(f"{bandwidth} kbps is below this codec's lowest rate, {per:g} kbps (one codebook)")
            codebooks = min(codebooks, self.n_codebooks)
        if codebooks is None:
            return self.n_codebooks
        if not 1 <= int(codebooks) <= self.n_codebooks:
            raise InputError(f"this codec has {self.n_codebooks} codebook(s) of {per:g} kbps; choose 1..{self.n_codebooks}, "
                             f"not {codebooks}")
        return int(codebooks)

    # -- identity ---------------------------------------------------------------------------
    @property
    def codebook_size(self) -> int:
        return self.model.codebook_size

    # -- encode / decode --------------------------------------------------------------------
    def encode(self, item: Audio | np.ndarray | bytes, *, codebooks: int | None = None,
               bandwidth: float | None = None) -> Tokens:
        """Encode :class:`Audio` (any rate), a mono float array (N,) at the model rate, or audio file bytes
        -> codes (T,) (FSQ) or (k, T) (residual: the first k = ``codebooks`` levels, or as many as
        ``bandwidth`` kbps allows; default all), T = ceil(N / hop) at the model rate."""
        return self.encode_batch([item], codebooks=codebooks, bandwidth=bandwidth)[0]

    def encode_batch(self, items: Sequence[Audio | np.ndarray | bytes] | Iterable[Audio | np.ndarray | bytes],
                     *, codebooks: int | None = None, bandwidth: float | None = None) -> list[Tokens]:
        """Encode many clips together: zero-padded, masked batches of up to ``BATCH_TOKENS`` tokens run through
        the network at once; each result equals encoding that clip alone."""
        kept = self.codebooks_for(codebooks, bandwidth)
        prepared = [self._prepare(item) for item in items]
        codes = self._run_encoder([samples for samples, _, _ in prepared], kept)
        return [self._tokens(item_codes, *item) for item_codes, item in zip(codes, prepared)]

    def encode_file(self, path: str | os.PathLike, *, codebooks: int | None = None,
                    bandwidth: float | None = None) -> Tokens:
        """Read a wav/flac/ogg file (any rate and channel count) and encode it."""
        return self.encode(load_audio(path), codebooks=codebooks, bandwidth=bandwidth)

    def decode(self, tokens: Tokens | np.ndarray | Sequence[int]) -> Audio:
        """Tokens -> :class:`Audio` at the original sample rate and length; bare codes ((T,) or (k, T))
        -> audio at the model rate, ``hop`` samples per token."""
        return self.decode_batch([tokens])[0]

    def decode_batch(self, batch: Sequence[Tokens | np.ndarray]) -> list[Audio]:
        """Decode many items' tokens together (padded, masked batches); each equals decoding it alone."""
        checked = [self._check_codes(tokens) for tokens in batch]
        decoded = self._run_decoder([codes for codes, _ in checked])
        return [self._finish(samples, meta) for samples, (_, meta) in zip(decoded, checked)]

    def write_decoded(self, item: Audio, path: str | os.PathLike, *, force: bool = False) -> None:
        """Write decoded audio as a 16-bit wav (or flac/ogg by suffix) at its own rate, atomically."""
        write_wav(path, item.samples, item.sample_rate, force=force)

    def save(self, directory: str | os.PathLike) -> Path:
        from tokkit.nn.weights import save_weights

        return save_weights(self.model, directory)

    def example_inputs(self, count: int = 3, seed: int = 0) -> list[Audio]:
        """``count`` speech-like clips (harmonics under a syllable envelope) of 0.2 s, 0.3 s, ... at the model rate."""
        rng = np.random.default_rng(seed)
        rate = self.config.sample_rate
        clips = []
        for index in range(count):
            t = np.arange(int(rate * (0.2 + 0.1 * index))) / rate
            pitch = 110 + 60 * rng.random()
            voice = sum(np.sin(2 * np.pi * pitch * k * t + rng.random()) / k for k in range(1, 6))
            envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
            clips.append(Audio((0.2 * envelope * voice + 0.01 * rng.standard_normal(t.size)).astype(np.float32), rate))
        return clips

    def describe(self) -> dict[str, Any]:
        facts = super().describe()
        facts.update(sample_rate=self.config.sample_rate, hop=self.config.hop, tokens_per_s=self.config.frame_rate,
                     kbps=self.model.bitrate / 1000, codebooks=self.n_codebooks, quantizer=self.config.quantizer,
                     parameters=sum(p.numel() for p in self.model.parameters()))
        return facts

    # -- internals --------------------------------------------------------------------------
    def _prepare(self, item: Audio | np.ndarray | bytes) -> tuple[np.ndarray, int, int]:
        """A clip checked and resampled to the model rate: (samples, original rate, original length)."""
        if isinstance(item, (bytes, bytearray)):
            item = load_audio(io.BytesIO(item), "the input bytes")
        audio = item if isinstance(item, Audio) else Audio(item, self.config.sample_rate)
        check_sample_rate(audio.sample_rate, "the audio")
        try:
            samples = np.asarray(audio.samples, dtype=np.float32)
        except (TypeError, ValueError):
            raise InputError(f"cannot encode a {type(audio.samples).__name__}: pass Audio, a mono float array "
                             f"at {self.config.sample_rate} Hz or audio file bytes") from None
        if samples.ndim != 1:
            raise InputError(f"audio must be mono (one dimension), got shape {samples.shape}")
        samples = check_audio(samples, "the audio")
        return resample(samples, audio.sample_rate, self.config.sample_rate), audio.sample_rate, samples.size

    def _tokens(self, codes: np.ndarray, samples: np.ndarray, original_rate: int, original_n: int) -> Tokens:
        meta = self.base_meta()
        if self.model.depth is not None:  # residual levels: how many this file keeps, and its bitrate
            meta.update(codebooks=int(codes.shape[0]), kbps=self.model.bitrate_of(int(codes.shape[0])) / 1000)
        meta.update(sample_rate=self.config.sample_rate, n_samples=int(samples.size), hop=self.config.hop,
                    frame_rate=self.config.frame_rate, original_sample_rate=int(original_rate),
                    original_n_samples=int(original_n), duration=samples.size / self.config.sample_rate)
        return Tokens(codes, meta)

    def _check_codes(self, tokens: Tokens | np.ndarray | Sequence[int]) -> tuple[np.ndarray, dict[str, Any]]:
        codes, meta = self.codes_and_meta(tokens)
        depth = self.model.depth
        expected = "(T,)" if depth is None else f"(k, T) with 1 <= k <= {depth}"
        shape_ok = codes.ndim == 1 if depth is None else (codes.ndim == 2 and 1 <= codes.shape[0] <= depth)
        if not shape_ok or codes.size == 0:
            raise InputError(f"this codec's tokens must be a non-empty array of shape {expected}, got {codes.shape}")
        if codes.min() < 0 or codes.max() >= self.codebook_size:
            raise InputError(f"audio codes must lie in [0, {self.codebook_size}); these tokens are corrupted")
        return codes, meta

    def validate_meta(self, tokens: Tokens) -> None:
        """The lengths in the metadata fit the codes: n_samples <= T * hop, and original_n_samples is the
        resampled length of n_samples (so decoding allocates in proportion to the codes)."""
        codes = np.asarray(tokens.codes)
        if codes.ndim == 0 or codes.size == 0:
            return  # the shape check of decode reports it
        meta, frames = tokens.meta, int(codes.shape[-1])
        if meta.get("sample_rate", self.config.sample_rate) != self.config.sample_rate:
            raise bad_field("sample_rate", meta["sample_rate"], f"this codec's rate, {self.config.sample_rate}")
        n = meta.get("n_samples", frames * self.config.hop)
        if n > frames * self.config.hop:
            raise bad_field("n_samples", n, f"at most {frames * self.config.hop} for {frames} frames of {self.config.hop}")
        rate = meta.get("original_sample_rate", self.config.sample_rate)
        longest = math.ceil(n * rate / self.config.sample_rate)
        if meta.get("original_n_samples", longest) > longest:
            raise bad_field("original_n_samples", meta["original_n_samples"],
                            f"at most {longest} ({n} samples at {rate} Hz)")

    def _finish(self, samples: np.ndarray, meta: dict[str, Any]) -> Audio:
        """Decoded model-rate samples -> Audio at the original rate and length the meta records."""
        n = int(meta.get("n_samples", samples.size))
        samples = samples[:n]
        rate = int(meta.get("original_sample_rate", self.config.sample_rate))
        if rate != self.config.sample_rate:
            samples = resample(samples, self.config.sample_rate, rate)
            samples = samples[:int(meta.get("original_n_samples", samples.size))]
        return Audio(samples, rate)

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Indices of windows grouped longest first into batches of at most ``BATCH_TOKENS`` padded tokens,
        each window at least ``MIN_FILL`` of its batch's longest (so padding costs at most 1/MIN_FILL - 1)."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        groups: list[list[int]] = []
        for index in order:
            if (groups and (len(groups[-1]) + 1) * lengths[groups[-1][0]] <= BATCH_TOKENS
                    and lengths[index] >= MIN_FILL * lengths[groups[-1][0]]):
                groups[-1].append(index)
            else:
                groups.append([index])
        return groups

    def _run_batched(self, pieces: list[np.ndarray], run: Callable[..., Any], unit: int) -> list[np.ndarray]:
        """``run`` (model.encode or model.decode) over ``pieces`` (first axis: ``unit`` samples per token) in
        padded batches; a batch of one runs unpadded, exactly as before batching existed."""
        import torch

        lengths = [piece.shape[0] // unit for piece in pieces]
        results: list[Any] = [None] * len(pieces)
        with torch.inference_mode():
            for group in self._batches(lengths):
                if len(group) == 1:
                    piece = torch.from_numpy(pieces[group[0]]).to(self.device)[None]
                    results[group[0]] = run(piece)[0]
                    continue
                longest = max(pieces[i].shape[0] for i in group)
                batch = np.zeros((len(group), longest, *pieces[group[0]].shape[1:]), dtype=pieces[group[0]].dtype)
                for row, i in enumerate(group):
                    batch[row, :pieces[i].shape[0]] = pieces[i]
                sizes = torch.tensor([pieces[i].shape[0] for i in group], device=self.device)
                out = run(torch.from_numpy(batch).to(self.device), sizes)
                for row, i in enumerate(group):
                    results[i] = out[row]
        return results

    def _run_encoder(self, clips: list[np.ndarray], codebooks: int | None = None) -> list[np.ndarray]:
        """Codes of each clip (model-rate samples), window by window with context, windows of all clips batched;
        residual codecs keep the first ``codebooks`` levels (default all)."""
        import functools

        hop = self.config.hop
        context = self.model.encoder.reach + CONTEXT_MARGIN
        depth = None if self.model.depth is None else (codebooks or self.model.depth)
        outputs, jobs, pieces = [], [], []
        for index, samples in enumerate(clips):
            n_tokens = math.ceil(samples.size / hop)
            padded = np.zeros(n_tokens * hop, dtype=np.float32)
            padded[:samples.size] = samples
            outputs.append(np.empty((n_tokens,) if depth is None else (depth, n_tokens), dtype=np.int64))
            for w in windows(n_tokens, self.chunk_tokens, context):
                jobs.append((index, w))
                pieces.append(padded[w.start * hop:w.stop * hop])
        run = self.model.encode if depth is None else functools.partial(self.model.encode, codebooks=depth)
        codes = self._run_batched(pieces, run, hop)
        for (index, w), window_codes in zip(jobs, codes):
            kept = window_codes[w.keep_start:w.keep_stop].cpu().numpy()
            outputs[index][..., w.start + w.keep_start:w.start + w.keep_stop] = kept if depth is None else kept.T
        return outputs

    def _run_decoder(self, items: list[np.ndarray]) -> list[np.ndarray]:
        """Samples of each item's codes, window by window with context, windows of all items batched."""
        hop = self.config.hop
        context = self.model.decoder.reach + CONTEXT_MARGIN
        outputs, jobs, pieces = [], [], []
        for index, codes in enumerate(items):
            n_tokens = codes.shape[-1]
            outputs.append(np.empty(n_tokens * hop, dtype=np.float32))
            for w in windows(n_tokens, self.chunk_tokens, context):
                jobs.append((index, w))
                pieces.append(np.ascontiguousarray(codes[..., w.start:w.stop].T.astype(np.int64)))
        audio = self._run_batched(pieces, self.model.decode, 1)
        for (index, w), window_audio in zip(jobs, audio):
            kept = window_audio[w.keep_start * hop:w.keep_stop * hop]
            outputs[index][(w.start + w.keep_start) * hop:(w.start + w.keep_stop) * hop] = kept.float().cpu().numpy()
        return [np.clip(out, -1.0, 1.0) for out in outputs]


def load_saved(directory: str | os.PathLike, config: dict, *, device: str = "auto",
               chunk_seconds: float = 20.0) -> AudioTokenizer:
    """Registry loader for saved "audio.codec" folders; ``device`` is "auto", "cpu" or "cuda"."""
    from tokkit.codecs.audio.config import CodecConfig
    from tokkit.codecs.audio.model import CodecModel
    from tokkit.nn.weights import load_weights

    from tokkit.core.device import resolve_device

    device = resolve_device(device)  # refuse a bad device before reading the weights
    model = load_weights(CodecModel(CodecConfig.from_dict(config)), directory)
    return AudioTokenizer(model, device=device, chunk_seconds=chunk_seconds)
