"""Tokenizers for the non-causal published codecs (DAC, SNAC): encode and decode in overlapping windows.

A causal codec streams (:class:`PublishedCodecTokenizer`); these look both ways, so long audio runs in
windows of ``CHUNK_SECONDS`` with the network's receptive field as context on each side
(:func:`tokkit.nn.windows.overlapped`): memory is bounded by one window and the codes are those of a
whole-file pass (up to float rounding, which can only flip near-ties). Audio is zero-padded at the end
to whole token frames, as the authors' code does.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from tokkit.codecs.audio.published.tokenizer import PublishedCodecTokenizer
from tokkit.core.device import reuse_freed_memory

#: SNAC's injected decoder noise is drawn from a generator seeded with this at every decode
NOISE_SEED = 0


class WindowedCodecTokenizer(PublishedCodecTokenizer):
    """A non-causal published codec; the model provides ``frame_samples`` (samples per token column),
    ``align_frames`` (columns a window starts on), ``encode_window``, ``decode_window`` and the two
    receptive-field bounds (``encode_context`` in samples, ``decode_context`` in columns)."""

    def __init__(self, model, *, device: str = "auto") -> None:
        super().__init__(model, device=device)
        from tokkit.nn.layout import time_grid

        # windows start on the model's grid and on the grid of its chunked dilated convolutions, so every
        # window computes each kept output exactly as a whole-file pass does (bit for bit)
        self.encode_grid = math.lcm(model.frame_samples * model.align_frames, time_grid(model.encoder))
        latent_per_column = getattr(model.config, "vq_strides", (1,))[0]  # SNAC: latent frames per column
        conv_grid = time_grid(model.decoder)
        self.decode_grid = math.lcm(model.align_frames, conv_grid // math.gcd(conv_grid, latent_per_column))
        self.window_samples = max(1, round(self.chunk_samples / self.encode_grid)) * self.encode_grid
        self.encode_context = model.encode_context()
        self.decode_context = model.decode_context()

    def workers(self) -> int:
        """Encoder windows run at once: torch's thread count on CPU (one intra-op thread each), else 1.
        (Decoding stays one window at a time: oneDNN's transposed convolutions round the first outputs of a
        call differently by its length, and SNAC draws its noise from one generator, window after window.)"""
        import torch

        return torch.get_num_threads() if self.device == "cpu" else 1

    @reuse_freed_memory()
    def encode_samples(self, samples: np.ndarray, n_q: int) -> np.ndarray:
        """Mono float32 samples at the model rate -> codes (rows, columns), in windows; the audio is zero-padded to
        whole windows of the model's grid (SNAC with attention: several columns), as the authors' code does."""
        import torch

        from tokkit.nn.windows import overlapped

        frame, grid = self.model.frame_samples, self.model.frame_samples * self.model.align_frames
        # (zero padding to the model's grid only: the conv grid aligns window starts, not the file's end)
        padded = np.pad(samples, (0, -samples.size % grid)) if samples.size % grid else samples
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(padded, dtype=np.float32)).to(self.device)[None, None]
            codes = overlapped(lambda piece: self.model.encode_window(piece, n_q), x, window=self.window_samples,
                               context=self.encode_context, ratio=(frame, 1), align=self.encode_grid,
                               workers=self.workers())
        return codes[0].cpu().numpy().astype(np.int64)

    @reuse_freed_memory()
    def decode_codes(self, codes: np.ndarray) -> np.ndarray:
        """Codes (rows, T) -> mono float32 samples (about T * frame_samples), in windows."""
        import torch

        from tokkit.nn.windows import overlapped

        generator = torch.Generator(device=self.device).manual_seed(NOISE_SEED)
        frame, align = self.model.frame_samples, self.model.align_frames
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.int64)).to(self.device)[None]
            audio = overlapped(lambda piece: self.model.decode_window(piece, generator), x,
                               window=self.window_samples // frame, context=self.decode_context, ratio=(1, frame),
                               align=self.decode_grid)
        return audio[0, 0].float().cpu().numpy()


class DACTokenizer(WindowedCodecTokenizer):
    """DAC (16 / 24 / 44.1 kHz): ``encode`` audio -> (q, T) codes at 50 / 75 / 86.1 frames per second; ``decode`` back.

    ``codebooks`` (or ``bandwidth`` in kbps) keeps the first q codebooks (default: all)."""

    kind: ClassVar[str] = "audio.dac"
    @classmethod
    def example_tokenizer(cls, rates: tuple[int, ...] = (2, 4)) -> "DACTokenizer":
        """A tiny random-weight DAC (for the contract tests); ``rates``: the encoder's strides (the decoder's reversed)."""
        import torch

        from tokkit.codecs.audio.published.dac import DACConfig, DACModel
        from tokkit.nn.snakenet import SnakeNetConfig

        torch.manual_seed(0)
        net = SnakeNetConfig(encoder_dim=2, encoder_rates=tuple(rates), latent_dim=8, decoder_dim=8,
                             decoder_rates=tuple(reversed(rates)))
        model = DACModel(DACConfig(name="dac_tiny", sample_rate=16000, n_q=4, codebook_size=16, codebook_dim=4, net=net))
        with torch.no_grad():
            for level in model.quantizer.levels:
                level.codebook.normal_()
        return cls(model, device="cpu")


class SNACTokenizer(WindowedCodecTokenizer):
    """SNAC: ``encode`` audio -> (rows, T) codes, one column per coarsest frame holding every kept level's codes
    depth first (24 kHz: 7 rows, 11.7 columns per second); ``decode`` back. ``codebooks`` keeps the first levels.

    Decoding adds the model's noise (as the authors' decoder does) from a generator seeded with ``NOISE_SEED``,
    so the same tokens always give the same audio."""

    kind: ClassVar[str] = "audio.snac"

    def kbps(self, n_q: int) -> float:
        return self.config.kbps(n_q)

    def check_rows(self, rows: int) -> None:
        self.model.levels_in(rows)

    def codebooks_for(self, codebooks: int | None = None, bandwidth: float | None = None) -> int:
        """How many levels to keep: ``codebooks``, or as many as ``bandwidth`` kbps allows; default all."""
        if bandwidth is not None and codebooks is None:
            from tokkit.errors import InputError

            top = self.config.kbps(self.config.n_q)
            if not 0 < bandwidth <= top * (1 + 1e-9):
                raise InputError(f"bandwidth must be in (0, {top:.3g}] kbps for this checkpoint, got {bandwidth}")
            return max([n for n in range(1, self.config.n_q + 1) if self.config.kbps(n) <= bandwidth * (1 + 1e-9)],
                       default=1)
        return super().codebooks_for(codebooks, bandwidth)

    def encode(self, item, *, codebooks: int | None = None, bandwidth: float | None = None):
        tokens = super().encode(item, codebooks=codebooks, bandwidth=bandwidth)
        n_q = tokens.meta["codebooks"]
        tokens.meta.update(layout="snac_depth_first", level_rates=[round(self.config.frame_rate * r, 6)
                                                                   for r in self.config.ratios[:n_q]])
        return tokens

    def describe(self) -> dict:
        facts = super().describe()
        facts.update(rows=self.config.rows(self.config.n_q), vq_strides=list(self.config.vq_strides),
                     level_rates=[round(self.config.frame_rate * r, 6) for r in self.config.ratios])
        return facts

    @classmethod
    def example_tokenizer(cls) -> "SNACTokenizer":
        """A tiny random-weight SNAC (for the contract tests)."""
        import torch

        from tokkit.codecs.audio.published.snac import SNACConfig, SNACModel
        from tokkit.nn.snakenet import SnakeNetConfig

        torch.manual_seed(0)
        net = SnakeNetConfig(encoder_dim=2, encoder_rates=(2, 4), decoder_dim=8, decoder_rates=(4, 2), style="snac",
                             depthwise=True, noise=True)
        model = SNACModel(SNACConfig(name="snac_tiny", sample_rate=16000, codebook_size=16, codebook_dim=4,
                                     vq_strides=(4, 2, 1), net=net))
        with torch.no_grad():
            for level in model.quantizer.levels:
                level.codebook.normal_()
        return cls(model, device="cpu")
