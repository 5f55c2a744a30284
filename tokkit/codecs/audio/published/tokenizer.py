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
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tokkit.codecs.audio.io import AUDIO_SUFFIXES, Audio, as_audio, load_audio, resample, restore_audio, write_wav
from tokkit.codecs.model_tokenizer import ModelTokenizer
from tokkit.codecs.published import PublishedWeights
from tokkit.core.device import reuse_freed_memory
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
    @reuse_freed_memory()
    def encode_samples(self, samples: np.ndarray, n_q: int) -> np.ndarray:
        """Mono float32 samples at the model rate -> codes (n_q, ceil(N / hop)), streamed on the fixed grid."""
        import torch

        pieces, state = [], {}
        with torch.inference_mode():
            for start in range(0, samples.size, self.chunk_samples):
                final = start + self.chunk_samples >= samples.size
                piece = torch.from_numpy(samples[start:start + self.chunk_samples]).to(self.device)[None, None]
                latents = self.model.stream_encoder(piece, state, final)
                if latents.shape[-1]:
                    pieces.append(self.model.quantize(latents, n_q)[0].cpu().numpy())
        return np.concatenate(pieces, axis=-1).astype(np.int64)

    @reuse_freed_memory()
    def decode_codes(self, codes: np.ndarray) -> np.ndarray:
        """Codes (q, T) -> mono float32 samples (T * hop), streamed in pieces of the fixed grid."""
        import torch

        step = self.chunk_samples // self.config.hop
        out, state = [], {}
        with torch.inference_mode():
            for start in range(0, codes.shape[-1], step):
                piece = torch.from_numpy(np.ascontiguousarray(codes[:, start:start + step], dtype=np.int64))
                latents = self.model.dequantize(piece.to(self.device)[None])
                audio = self.model.stream_decoder(latents, state, start + step >= codes.shape[-1])
                out.append(audio[0, 0].float().cpu().numpy())
        return np.concatenate(out)


#: WavTokenizer: seconds coded in one pass (its decoder attends over the whole pass), and the context
#: added on each side of a window when a longer item is cut into windows on a fixed grid
WINDOW_SECONDS = 30.0
CONTEXT_SECONDS = 2.0


class WavTokenizerTokenizer(PublishedCodecTokenizer):
    """WavTokenizer: ``encode`` audio -> (1, T) codes of one 4096-code VQ, T = ceil(samples / hop) (40 or 75
    tokens/s); ``decode`` back. Not causal (its encoder convs look ahead and run an LSTM; its decoder's
    GroupNorms and attention span the whole input): items up to ``WINDOW_SECONDS`` are coded in one pass,
    exactly as the reference; longer ones in windows of that length on a fixed grid, each with
    ``CONTEXT_SECONDS`` of context on both sides that is coded and dropped, so memory stays bounded. Encoding
    gives a whole-file pass's latents and codes bit for bit (:meth:`tokkit.nn.seanet.SEANetEncoder.windowed`:
    the convolutions run in windows, the LSTM over all frames carrying its state); windowed audio differs from
    a whole-file decode throughout (each window's GroupNorm statistics and attention are its own).
    """

    kind: ClassVar[str] = "audio.wavtokenizer"
    options: ClassVar[tuple[Option, ...]] = ()

    def __init__(self, model: Any, *, device: str = "auto") -> None:
        super().__init__(model, device=device)
        hop = self.config.hop
        self.window_frames = max(1, round(WINDOW_SECONDS * self.config.sample_rate / hop))
        self.context_frames = max(1, round(CONTEXT_SECONDS * self.config.sample_rate / hop))

    def encode(self, item: Audio | np.ndarray | bytes) -> Tokens:
        """Encode :class:`Audio` (any rate), a mono float array at the model rate, or audio file bytes."""
        return super().encode(item)

    def encode_file(self, path: str | os.PathLike) -> Tokens:
        """Read a wav/flac/ogg file (any rate and channel count) and encode it."""
        return self.encode(load_audio(path))

    @reuse_freed_memory()
    def encode_samples(self, samples: np.ndarray, n_q: int = 1) -> np.ndarray:
        """Mono float32 samples at the model rate -> codes (1, ceil(N / hop)), the encoder window by window."""
        import torch

        hop = self.config.hop
        with torch.inference_mode():
            x = torch.from_numpy(samples).to(self.device)[None, None]
            latents = self.model.encoder.windowed(x, window=self.window_frames * hop, context=self.context_frames * hop)
            codes = self.model.quantize(latents)[0]
        return codes.cpu().numpy().astype(np.int64)

    @reuse_freed_memory()
    def decode_codes(self, codes: np.ndarray) -> np.ndarray:
        """Codes (1, T) -> mono float32 samples (T * hop), window by window."""
        import torch

        from tokkit.nn.windows import overlapped

        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.int64)).to(self.device)[None]
            audio = overlapped(self.model.decode, x, window=self.window_frames, context=self.context_frames,
                               ratio=(1, self.config.hop))
        return audio[0].float().cpu().numpy()

    @classmethod
    def example_tokenizer(cls) -> "WavTokenizerTokenizer":
        """A tiny random-weight WavTokenizer (for the contract tests)."""
        import torch

        from tokkit.codecs.audio.published.wavtokenizer import WavTokenizerConfig, WavTokenizerModel
        from tokkit.nn.seanet import SEANetConfig

        torch.manual_seed(0)
        config = WavTokenizerConfig(codebook_size=16, dim=16, intermediate_dim=32, num_layers=1, groups=8,
                                    head_n_fft=64, seanet=SEANetConfig(n_filters=2, dimension=8, lstm=1, ratios=(4, 4),
                                                                       causal=False))
        model = WavTokenizerModel(config)
        with torch.no_grad():
            model.quantizer.codebook.normal_()
        return cls(model, device="cpu")


class EncodecVocosTokenizer(PublishedCodecTokenizer):
    """EnCodec 24 kHz codes decoded by Vocos (Siuzdak 2023) instead of EnCodec's own decoder.

    Encoding is the EnCodec checkpoint's, unchanged, so the tokens (and the identity hash they carry, the
    EnCodec checkpoint's) are the same as :class:`PublishedCodecTokenizer`'s: tokens made by either decode
    with either, and only the synthesis differs. Vocos decodes the codebook counts it was trained for
    (1.5 / 3 / 6 / 12 kbps: 2 / 4 / 8 / 16 codebooks); the default is the largest, and tokens with more
    codebooks decode from the largest prefix Vocos knows. Decoding runs in windows
    of the fixed grid with enough context on each side that the result equals one whole pass.
    """

    kind: ClassVar[str] = "audio.encodec_vocos"

    def __init__(self, model: Any, vocos: Any, *, device: str = "auto") -> None:
        super().__init__(model, device=device)
        from tokkit.codecs.audio.published.vocos import context_frames

        c, v = self.config, vocos.config
        if v.features != "encodec" or v.codebook_size != c.codebook_size or v.n_q > c.n_q \
                or v.head_hop != c.hop or v.sample_rate != c.sample_rate:
            raise InputError(f"this Vocos ({v.n_q} codebooks of {v.codebook_size}, hop {v.head_hop}) does not decode "
                             f"this EnCodec's codes ({c.n_q} codebooks of {c.codebook_size}, hop {c.hop})")
        self.vocos = vocos.eval().to(self.device)
        self.vocos_codebooks = tuple(round(b * v.n_q / v.bandwidths[-1]) for b in v.bandwidths)
        self.context = context_frames(vocos)

    def codebooks_for(self, codebooks: int | None = None, bandwidth: float | None = None) -> int:
        """EnCodec's rule, restricted to the counts Vocos decodes; default the largest of them."""
        n_q = super().codebooks_for(codebooks, bandwidth)
        if codebooks is None and bandwidth is None:
            return self.vocos_codebooks[-1]
        if n_q not in self.vocos_codebooks:
            raise InputError(f"Vocos decodes EnCodec tokens with {', '.join(map(str, self.vocos_codebooks))} "
                             f"codebooks, not {n_q}")
        return n_q

    @reuse_freed_memory()
    def decode_codes(self, codes: np.ndarray) -> np.ndarray:
        """Codes (q, T) -> mono float32 samples (T * hop) through Vocos, window by window with context."""
        import torch

        usable = [n for n in self.vocos_codebooks if n <= codes.shape[0]]
        if not usable:
            raise InputError(f"Vocos decodes EnCodec tokens with at least {self.vocos_codebooks[0]} codebooks; "
                             f"these have {codes.shape[0]}")
        codes = codes[:usable[-1]]  # an RVQ prefix: the codebooks beyond what Vocos was trained on are dropped
        condition = torch.tensor([self.vocos.bandwidth_id(codes.shape[0])], device=self.device)
        from tokkit.nn.windows import overlapped

        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.int64)).to(self.device)[None]
            audio = overlapped(lambda piece: self.vocos.vocode(self.vocos.embed(piece), condition), x,
                               window=self.chunk_samples // self.config.hop, context=self.context,
                               ratio=(1, self.config.hop))
        return audio[0].float().cpu().numpy()

    def save(self, directory: str | os.PathLike) -> Path:
        """config.json {"kind", "encodec", "vocos"} + model.safetensors ("encodec.*", "vocos.*"), float32."""
        import json

        from safetensors.torch import save

        from tokkit.core.atomic import atomic_write_bytes, atomic_write_text
        from tokkit.nn.weights import WEIGHTS

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {f"{part}.{name}": value.detach().cpu().contiguous()
                   for part, module in (("encodec", self.model), ("vocos", self.vocos))
                   for name, value in module.state_dict().items()}
        atomic_write_bytes(directory / WEIGHTS, save(tensors))
        config = {"kind": self.kind, "encodec": self.config.to_dict(), "vocos": self.vocos.config.to_dict()}
        atomic_write_text(directory / "config.json", json.dumps(config, indent=2, sort_keys=True) + "\n")
        return directory

    def describe(self) -> dict[str, Any]:
        facts = super().describe()
        facts.update(decoder="vocos", decoder_codebooks=list(self.vocos_codebooks),
                     decoder_parameters=sum(p.numel() for p in self.vocos.parameters()))
        return facts

    @classmethod
    def example_tokenizer(cls) -> "EncodecVocosTokenizer":
        """A tiny random-weight EnCodec + Vocos pair (for the contract tests)."""
        import torch

        from tokkit.codecs.audio.published.vocos import VocosConfig, VocosModel

        encodec = PublishedCodecTokenizer.example_tokenizer().model
        c = encodec.config
        torch.manual_seed(1)
        per = c.kbps_per_codebook
        vocos = VocosModel(VocosConfig(features="encodec", bandwidths=(2 * per, 4 * per), n_q=4,
                                       codebook_size=c.codebook_size, input_channels=c.seanet.dimension, dim=16,
                                       intermediate_dim=32, num_layers=1, head_n_fft=4 * c.hop, head_hop=c.hop))
        with torch.no_grad():
            vocos.codebook_weights.normal_()
        return cls(encodec, vocos, device="cpu")


class MimiTokenizer(PublishedCodecTokenizer):
    """Mimi (Kyutai): ``encode`` audio -> (q, T) codes at 12.5 frames per second, the first row the semantic
    codebook, the rest acoustic; ``decode`` back. Causal throughout, so it streams on the fixed grid like
    EnCodec: memory stays bounded on any length and a file's codes never depend on how long it is.

    ``codebooks`` (or ``bandwidth``, 0.1375 kbps per codebook) keeps an RVQ prefix; the default is the
    config's ``default_codebooks`` (8, what Moshi uses), not all 32."""

    kind: ClassVar[str] = "audio.mimi"
    options: ClassVar[tuple[Option, ...]] = (
        Option("codebooks", int, None, "keep the first N codebooks (the first is semantic; fewer: lower bitrate); "
               "default 8, as Moshi uses", low=1, high="n_codebooks", metavar="N"),
        Option("bandwidth", float, None, "keep as many codebooks as KBPS allows (0.1375 kbps per codebook: "
               "1.1 kbps is 8); default 8 codebooks", low=0.0, metavar="KBPS"),
    )
    label_fields: ClassVar[tuple[str, ...]] = ("name", "default_codebooks")  # left out of the identity hash

    def codebooks_for(self, codebooks: int | None = None, bandwidth: float | None = None) -> int:
        """EnCodec's rule; with neither given, ``default_codebooks`` (8)."""
        if codebooks is None and bandwidth is None:
            return self.config.default_codebooks
        return super().codebooks_for(codebooks, bandwidth)

    def describe(self) -> dict[str, Any]:
        facts = super().describe()
        c = self.config
        facts.update(default_codebooks=c.default_codebooks, semantic_codebooks=c.n_q_semantic,
                     default_kbps=round(self.kbps(c.default_codebooks), 6), attention_context=c.context)
        return facts

    @classmethod
    def example_tokenizer(cls) -> "MimiTokenizer":
        """A tiny random-weight Mimi (for the contract tests)."""
        import torch

        from tokkit.codecs.audio.published.mimi import MimiConfig, MimiModel
        from tokkit.nn.seanet import SEANetConfig

        torch.manual_seed(0)
        seanet = SEANetConfig(dimension=16, n_filters=2, ratios=(4, 4), last_kernel_size=3, pad_mode="constant",
                              true_skip=True, lstm=0)
        model = MimiModel(MimiConfig(sample_rate=16000, frame_rate=500.0, n_q=4, codebook_size=16, codebook_dim=8,
                                     default_codebooks=3, heads=2, layers=1, dim_feedforward=32, context=8,
                                     seanet=seanet))
        with torch.no_grad():
            for group in (model.quantizer.semantic, model.quantizer.acoustic):
                for level in group.levels:
                    level.codebook.normal_()
        return cls(model, device="cpu")
