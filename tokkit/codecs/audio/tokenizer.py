"""``AudioTokenizer``: the speech codec behind ``tokkit.load("audio")`` (one code per ``hop`` samples).

Audio of any rate is resampled to the model rate; tokens record the original rate and length so that
``decode`` gives back audio at that rate. Long inputs run through the network in windows with enough
context on each side that the result matches whole-file processing (bounded memory, no seams).
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tokkit.codecs.audio.chunking import windows
from tokkit.codecs.audio.config import KIND
from tokkit.codecs.audio.io import AUDIO_SUFFIXES, Audio, as_audio, load_audio, resample, restore_audio, write_wav
from tokkit.codecs.audio.model import CodecModel
from tokkit.core.tokenizer import Tokenizer, canonical_json
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError

CONTEXT_MARGIN = 4  # tokens of context beyond the computed reach, for safety


class AudioTokenizer(Tokenizer):
    """Neural speech codec: ``encode`` audio -> (T,) codes (FSQ) or (depth, T) codes (RVQ),
    T = ceil(samples / hop); ``decode`` the reverse.

    ``chunk_seconds`` bounds how much audio the network sees at once; ``device`` is "auto", "cpu" or "cuda".
    """

    modality: ClassVar[str] = "audio"
    kind: ClassVar[str] = KIND
    input_suffixes: ClassVar[tuple[str, ...]] = AUDIO_SUFFIXES
    output_suffix: ClassVar[str] = ".wav"

    def __init__(self, model: CodecModel, *, device: str = "auto", chunk_seconds: float = 20.0) -> None:
        from tokkit.core.device import resolve_device

        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.config = model.config
        self.chunk_tokens = max(1, round(chunk_seconds * self.config.frame_rate))

    # -- identity ---------------------------------------------------------------------------
    def fingerprint(self) -> bytes:
        digest = hashlib.sha256(canonical_json(self.config.to_dict()))
        for name, tensor in sorted(self.model.state_dict().items()):
            digest.update(name.encode())
            stored = tensor.half() if tensor.is_floating_point() else tensor  # as saved on disk
            digest.update(stored.detach().cpu().numpy().tobytes())
        return digest.digest()

    @property
    def codebook_size(self) -> int:
        return self.model.codebook_size

    # -- encode / decode --------------------------------------------------------------------
    def encode(self, item: Audio | np.ndarray | bytes) -> Tokens:
        """Encode :class:`Audio` (any rate), a mono float array at the model rate, or audio file bytes."""
        audio = as_audio(item, self.config.sample_rate)
        samples = audio.samples
        return self._encode(resample(samples, audio.sample_rate, self.config.sample_rate), audio.sample_rate, samples.size)

    def encode_file(self, path: str | os.PathLike) -> Tokens:
        """Read a wav/flac/ogg file (any rate and channel count) and encode it."""
        return self.encode(load_audio(path))

    def decode(self, tokens: Tokens) -> Audio:
        """Tokens -> :class:`Audio` at the original sample rate and length."""
        self.check_tokens(tokens)
        codes = np.asarray(tokens.codes)
        depth = self.model.depth
        expected = "(T,)" if depth is None else f"(k, T) with 1 <= k <= {depth}"
        shape_ok = codes.ndim == 1 if depth is None else (codes.ndim == 2 and 1 <= codes.shape[0] <= depth)
        if not shape_ok or codes.size == 0:
            raise InputError(f"this codec's tokens must be a non-empty array of shape {expected}, got {codes.shape}")
        if codes.min() < 0 or codes.max() >= self.codebook_size:
            raise InputError(f"audio codes must lie in [0, {self.codebook_size}); these tokens are corrupted")
        return restore_audio(self._run_decoder(codes), tokens.meta, self.config.sample_rate)

    def write_decoded(self, item: Audio, path: str | os.PathLike, *, force: bool = False) -> None:
        """Write decoded audio as a 16-bit wav (or flac/ogg by suffix) at its own rate, atomically."""
        write_wav(path, item.samples, item.sample_rate, force=force)

    def save(self, directory: str | os.PathLike) -> Path:
        from tokkit.nn.weights import save_weights

        return save_weights(self.model, directory)

    def describe(self) -> dict[str, Any]:
        facts = super().describe()
        facts.update(sample_rate=self.config.sample_rate, hop=self.config.hop, tokens_per_s=self.config.frame_rate,
                     kbps=self.model.bitrate / 1000, quantizer=self.config.quantizer,
                     parameters=sum(p.numel() for p in self.model.parameters()))
        return facts

    # -- internals --------------------------------------------------------------------------
    def _encode(self, samples: np.ndarray, original_rate: int, original_n: int) -> Tokens:
        codes = self._run_encoder(samples)
        meta = self.base_meta()
        meta.update(sample_rate=self.config.sample_rate, n_samples=int(samples.size), hop=self.config.hop,
                    frame_rate=self.config.frame_rate, original_sample_rate=int(original_rate),
                    original_n_samples=int(original_n), duration=samples.size / self.config.sample_rate)
        return Tokens(codes, meta)

    def _run_encoder(self, samples: np.ndarray) -> np.ndarray:
        import torch

        hop = self.config.hop
        n_tokens = math.ceil(samples.size / hop)
        padded = np.zeros(n_tokens * hop, dtype=np.float32)
        padded[:samples.size] = samples
        context = self.model.encoder.reach + CONTEXT_MARGIN
        depth = self.model.depth
        out = np.empty((n_tokens,) if depth is None else (depth, n_tokens), dtype=np.int64)
        with torch.inference_mode():
            for w in windows(n_tokens, self.chunk_tokens, context):
                piece = torch.from_numpy(padded[w.start * hop:w.stop * hop]).to(self.device)[None]
                codes = self.model.encode(piece)[0, w.keep_start:w.keep_stop].cpu().numpy()
                out[..., w.start + w.keep_start:w.start + w.keep_stop] = codes if depth is None else codes.T
        return out

    def _run_decoder(self, codes: np.ndarray) -> np.ndarray:
        import torch

        hop = self.config.hop
        context = self.model.decoder.reach + CONTEXT_MARGIN
        n_tokens = codes.shape[-1]
        out = np.empty(n_tokens * hop, dtype=np.float32)
        with torch.inference_mode():
            for w in windows(n_tokens, self.chunk_tokens, context):
                piece = torch.from_numpy(codes[..., w.start:w.stop].T.astype(np.int64)).to(self.device)[None]
                audio = self.model.decode(piece)[0, w.keep_start * hop:w.keep_stop * hop]
                out[(w.start + w.keep_start) * hop:(w.start + w.keep_stop) * hop] = audio.float().cpu().numpy()
        return np.clip(out, -1.0, 1.0)


def load_saved(directory: str | os.PathLike, config: dict, *, device: str = "auto",
               chunk_seconds: float = 20.0) -> AudioTokenizer:
    """Registry loader for saved "audio.codec" folders; ``device`` is "auto", "cpu" or "cuda"."""
    from tokkit.codecs.audio.config import CodecConfig
    from tokkit.nn.weights import load_weights

    model = load_weights(CodecModel(CodecConfig.from_dict(config)), directory)
    return AudioTokenizer(model, device=device, chunk_seconds=chunk_seconds)
