"""``PublishedCodecTokenizer``: a ported published codec (EnCodec, ...) behind tokkit's one interface.

Audio of any rate and channel count is read, downmixed and resampled by the audio codec's own io.
Encoding and decoding always run as a stream over a fixed grid of ``CHUNK_SECONDS`` pieces starting
at sample 0 (causal models): memory stays bounded on any length, and a file's codes never depend on
how long it is (the codes of a prefix are the prefix of the codes). ``codebooks`` / ``bandwidth``
keep an RVQ prefix. Tokens record the checkpoint's identity (config + float32 weights hash).
"""

from __future__ import annotations

import math
import os
from typing import Any, ClassVar

import numpy as np

from tokkit.codecs.audio.io import AUDIO_SUFFIXES, Audio, as_audio, load_audio, resample, restore_audio, write_wav
from tokkit.codecs.model_tokenizer import ModelTokenizer
from tokkit.codecs.published import PublishedWeights
from tokkit.core.tokenizer import Option
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError

#: seconds of audio per streamed piece (a fixed grid from the start of the file)
CHUNK_SECONDS = 10.0


class PublishedCodecTokenizer(PublishedWeights, ModelTokenizer):
    """A published RVQ codec: ``encode`` audio -> (q, T) codes, T = ceil(samples / hop); ``decode`` back.

    ``codebooks`` (or ``bandwidth`` in kbps) given to ``encode`` keeps the first q of the model's
    codebooks (default: all); ``device`` is "auto", "cpu" or "cuda".
    """

    modality: ClassVar[str] = "audio"
    kind: ClassVar[str] = "audio.encodec"
    options: ClassVar[tuple[Option, ...]] = (
        Option("codebooks", int, None, "RVQ codecs (EnCodec, DAC, SNAC): keep the first N codebooks (fewer: lower "
               "bitrate); default: all", low=1, high="n_codebooks", metavar="N"),
        Option("bandwidth", float, None, "RVQ codecs: keep as many codebooks as KBPS allows (EnCodec "
               "24 kHz: 1.5, 3, 6, 12 or 24; DAC 44.1 kHz: 0.86 per codebook); default: all", low=0.0, metavar="KBPS"),
    )
    label_fields: ClassVar[tuple[str, ...]] = ("name", "target_bandwidths")  # left out of the identity hash
    input_suffixes: ClassVar[tuple[str, ...]] = AUDIO_SUFFIXES
    output_suffix: ClassVar[str] = ".wav"

    def __init__(self, model: Any, *, device: str = "auto") -> None:
        super().__init__(model, device=device)
        self.n_codebooks = self.config.n_q
        hop = self.config.hop
        self.chunk_samples = max(1, round(CHUNK_SECONDS * self.config.sample_rate / hop)) * hop

    def codebooks_for(self, codebooks: int | None = None, bandwidth: float | None = None) -> int:
        """How many RVQ levels to keep: ``codebooks``, or as many as ``bandwidth`` kbps allows; default all."""
        n_q = self.config.n_q
        if codebooks is not None and bandwidth is not None:
            raise InputError("give either codebooks or bandwidth, not both")
        if bandwidth is not None:
            per = self.config.kbps_per_codebook
            if not bandwidth > 0:
                raise InputError(f"bandwidth must be a positive number of kbps, got {bandwidth}")
            codebooks = max(1, math.floor(bandwidth / per + 1e-9))
            if codebooks > n_q:
                raise InputError(f"{bandwidth} kbps needs {codebooks} codebooks; this checkpoint has {n_q} "
                                 f"({n_q * per:g} kbps at most)")
        if codebooks is None:
            return n_q
        if not 1 <= int(codebooks) <= n_q:
            raise InputError(f"this checkpoint has {n_q} codebooks; choose 1..{n_q}, not {codebooks}")
        return int(codebooks)

    def kbps(self, n_q: int) -> float:
        """Bitrate of the first ``n_q`` codebooks."""
        return n_q * self.config.kbps_per_codebook

    def check_rows(self, rows: int) -> None:
        """Refuse token arrays whose row count this checkpoint cannot decode (rows = codebooks for RVQ)."""
        if not 1 <= rows <= self.config.n_q:
            raise InputError(f"these tokens have {rows} codebooks; this checkpoint has {self.config.n_q}")

    # -- encode / decode --------------------------------------------------------------------
    def encode(self, item: Audio | np.ndarray | bytes, *, codebooks: int | None = None,
               bandwidth: float | None = None) -> Tokens:
        """Encode :class:`Audio` (any rate), a mono float array at the model rate, or audio file bytes."""
        n_q = self.codebooks_for(codebooks, bandwidth)
        audio = as_audio(item, self.config.sample_rate)
        samples = audio.samples
        resampled = resample(samples, audio.sample_rate, self.config.sample_rate)
        codes = self.encode_samples(resampled, n_q)
        meta = self.base_meta()
        c = self.config
        meta.update(codec=c.name, sample_rate=c.sample_rate, n_samples=int(resampled.size), hop=c.hop,
                    frame_rate=c.frame_rate, codebooks=n_q, kbps=round(self.kbps(n_q), 6),
                    original_sample_rate=int(audio.sample_rate), original_n_samples=int(samples.size),
                    duration=resampled.size / c.sample_rate)
        return Tokens(codes, meta)

    def encode_file(self, path: str | os.PathLike, *, codebooks: int | None = None,
                    bandwidth: float | None = None) -> Tokens:
        """Read a wav/flac/ogg file (any rate and channel count) and encode it."""
        return self.encode(load_audio(path), codebooks=codebooks, bandwidth=bandwidth)

    def decode(self, tokens: Tokens | np.ndarray) -> Audio:
        """Tokens -> :class:`Audio` at the original sample rate and length; bare (q, T) codes -> audio at the
        model rate."""
        codes, meta = self.codes_and_meta(tokens)
        if codes.ndim != 2 or codes.size == 0:
            raise InputError(f"this codec's tokens must be a non-empty (q, T) array, got shape {codes.shape}")
        self.check_rows(codes.shape[0])
        if codes.min() < 0 or codes.max() >= self.codebook_size:
            raise InputError(f"audio codes must lie in [0, {self.codebook_size}); these tokens are corrupted")
        audio = restore_audio(self.decode_codes(codes), meta, self.config.sample_rate)
        return Audio(np.clip(audio.samples, -1.0, 1.0), audio.sample_rate)

    def write_decoded(self, item: Audio, path: str | os.PathLike, *, force: bool = False) -> None:
        """Write decoded audio as a 16-bit wav (or flac/ogg by suffix) at its own rate, atomically."""
        write_wav(path, item.samples, item.sample_rate, force=force)

    def describe(self) -> dict[str, Any]:
        facts = super().describe()
        c = self.config
        facts.update(codec=c.name, sample_rate=c.sample_rate, hop=c.hop, tokens_per_s=c.frame_rate,
                     codebooks=c.n_q, kbps=round(self.kbps(c.n_q), 6),
                     parameters=sum(p.numel() for p in self.model.parameters()))
        if hasattr(c, "kbps_per_codebook"):  # RVQ codecs whose levels all run at one rate
            facts["kbps_per_codebook"] = round(c.kbps_per_codebook, 6)
        return facts

    def example_inputs(self, count: int = 3, seed: int = 0) -> list[Audio]:
        """``count`` short noisy tones of different lengths and rates."""
        rng = np.random.default_rng(seed)
        items = []
        for index in range(count):
            rate = (16000, 24000, 22050)[index % 3]
            t = np.arange(int(rate * (0.05 + 0.03 * index))) / rate
            tone = 0.3 * np.sin(2 * np.pi * (150 + 50 * index) * t) + 0.01 * rng.standard_normal(t.size)
            items.append(Audio(tone.astype(np.float32), rate))
        return items

    @classmethod
    def example_tokenizer(cls) -> "PublishedCodecTokenizer":
        """A tiny random-weight EnCodec (for the contract tests)."""
        import torch

        from tokkit.codecs.audio.published.encodec import EncodecConfig, EncodecModel
        from tokkit.nn.seanet import SEANetConfig

        torch.manual_seed(0)
        model = EncodecModel(EncodecConfig(n_q=4, codebook_size=16, seanet=SEANetConfig(n_filters=2, dimension=8, lstm=1)))
        with torch.no_grad():
            for level in model.quantizer.levels:
                level.codebook.normal_()
        return cls(model, device="cpu")

    # -- the streamed network ---------------------------------------------------------------
    def encode_samples(self, samples: np.ndarray, n_q: int) -> np.ndarray:
        """Mono float32 samples at the model rate -> codes (n_q, ceil(N / hop)), streamed on the fixed grid."""
        import torch

        pieces, state = [], {}
        with torch.inference_mode():
            for start in range(0, samples.size, self.chunk_samples):
                final = start + self.chunk_samples >= samples.size
                piece = torch.from_numpy(samples[start:start + self.chunk_samples]).to(self.device)[None, None]
                latents = self.model.encoder.stream(piece, state, final)
                if latents.shape[-1]:
                    pieces.append(self.model.quantize(latents, n_q)[0].cpu().numpy())
        return np.concatenate(pieces, axis=-1).astype(np.int64)

    def decode_codes(self, codes: np.ndarray) -> np.ndarray:
        """Codes (q, T) -> mono float32 samples (T * hop), streamed in pieces of the fixed grid."""
        import torch

        step = self.chunk_samples // self.config.hop
        out, state = [], {}
        with torch.inference_mode():
            for start in range(0, codes.shape[-1], step):
                piece = torch.from_numpy(np.ascontiguousarray(codes[:, start:start + step], dtype=np.int64))
                latents = self.model.dequantize(piece.to(self.device)[None])
                audio = self.model.decoder.stream(latents, state, start + step >= codes.shape[-1])
                out.append(audio[0, 0].float().cpu().numpy())
        return np.concatenate(out)
