"""The codec network: STFT encoder -> quantizer -> ConvNeXt backbone -> iSTFT head (magnitude and phase).

Every tensor of audio has a length that is a multiple of ``hop``; token ``t`` covers samples
``[t*hop, (t+1)*hop)``.
"""

from __future__ import annotations

import importlib
import math

import torch

from tokkit.codecs.audio.config import CodecConfig
from tokkit.errors import InputError
from tokkit.nn.convnext import ConvNeXtStack
from tokkit.nn.stft import SameSTFT

#: quantizer kind -> (module, class, config class) in tokkit.quant
QUANTIZERS = {"fsq": ("tokkit.quant.fsq", "FSQ", "FSQConfig"), "rvq": ("tokkit.quant.rvq", "RVQ", "RVQConfig"),
              "rfsq": ("tokkit.quant.rfsq", "ResidualFSQ", "ResidualFSQConfig")}


def build_quantizer(spec: dict, dim: int) -> torch.nn.Module:
    """A tokkit.quant quantizer from a ``{"kind": ..., **config}`` dict, fed ``dim``-wide latents."""
    options = {k: v for k, v in spec.items() if k != "kind"}
    if spec["kind"] not in QUANTIZERS:
        raise InputError(f"unknown quantizer kind {spec['kind']!r} (known: {', '.join(QUANTIZERS)})")
    module_name, class_name, config_name = QUANTIZERS[spec["kind"]]
    module = importlib.import_module(module_name)
    return getattr(module, class_name)(getattr(module, config_name)(dim=dim, **options))


class Encoder(torch.nn.Module):
    """(B, N) audio -> (B, N // hop, width) latents: log-magnitude STFT at hop/2, ConvNeXt, stride-2 merge."""

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        half = config.hop // 2
        self.stft = SameSTFT(4 * half, half)
        hidden = config.mlp_ratio * config.encoder_width
        self.stack = ConvNeXtStack(self.stft.bins, config.encoder_width, config.encoder_depth, hidden, config.kernel)
        self.merge = torch.nn.Linear(2 * config.encoder_width, config.encoder_width)

    @property
    def reach(self) -> int:
        """Tokens of context on each side that influence one token (rounded up)."""
        return -(-(self.stack.reach + 4) // 2)

    def forward(self, audio: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(B, N) audio, N a multiple of hop -> (B, N // hop, width). ``lengths`` (B,) in samples (multiples of
        hop): a padded batch whose items each give what they give alone (their padding's latents are junk)."""
        if lengths is None:
            features = torch.log1p(self.stft(audio).abs() * 10.0)
            x = self.stack(features)  # (B, 2T, width)
        else:
            frames = lengths // self.stft.hop
            spectra = torch.zeros(audio.shape[0], self.stft.bins, audio.shape[1] // self.stft.hop,
                                  dtype=torch.complex64, device=audio.device)
            for index, count in enumerate(frames.tolist()):  # each item's STFT reflects at its own ends
                spectra[index, :, :count] = self.stft(audio[index:index + 1, :count * self.stft.hop])[0]
            mask = torch.arange(spectra.shape[-1], device=audio.device)[None] < frames[:, None]
            x = self.stack(torch.log1p(spectra.abs() * 10.0), mask)
        b, t2, c = x.shape
        return self.merge(x.reshape(b, t2 // 2, 2 * c))


class Decoder(torch.nn.Module):
    """(B, T, dim) quantized latents -> (B, T * hop) audio via a ConvNeXt backbone and an iSTFT head."""

    def __init__(self, config: CodecConfig, dim: int) -> None:
        super().__init__()
        self.istft = SameSTFT(4 * config.hop, config.hop)
        hidden = config.mlp_ratio * config.decoder_width
        self.stack = ConvNeXtStack(dim, config.decoder_width, config.decoder_depth, hidden, config.kernel)
        self.head = torch.nn.Linear(config.decoder_width, 2 * self.istft.bins)

    @property
    def reach(self) -> int:
        """Tokens of context on each side that influence one token's samples (backbone + iSTFT overlap)."""
        return self.stack.reach + 2

    def forward(self, latents: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, dim) latents -> (B, T * hop) audio. ``lengths`` (B,) in tokens: a padded batch whose items
        each give what they give alone, followed by zeros."""
        mask = None if lengths is None else torch.arange(latents.shape[1], device=latents.device)[None] < lengths[:, None]
        x = self.head(self.stack(latents.transpose(1, 2), mask)).transpose(1, 2)
        log_magnitude, phase = x.chunk(2, dim=1)
        spectra = torch.polar(torch.exp(log_magnitude.clamp(max=7.0)), phase)
        if lengths is None:
            return self.istft.inverse(spectra)
        audio = torch.zeros(latents.shape[0], latents.shape[1] * self.istft.hop, device=latents.device)
        for index, count in enumerate(lengths.tolist()):  # each item's overlap-add ends at its own end
            audio[index, :count * self.istft.hop] = self.istft.inverse(spectra[index:index + 1, :, :count].contiguous())[0]
        return audio


class CodecModel(torch.nn.Module):
    """Encoder, quantizer and decoder of one codec; ``forward`` is the training path."""

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.quantizer = build_quantizer(config.quantizer, config.encoder_width)
        self.decoder = Decoder(config, config.encoder_width)

    @property
    def codebook_size(self) -> int:
        """Codes per codebook (every RVQ level has the same size)."""
        return int(self.quantizer.codebook_size)

    @property
    def depth(self) -> int | None:
        """Codes per frame for residual quantizers; None for one code per frame (FSQ)."""
        return getattr(self.quantizer, "depth", None)

    @property
    def bitrate(self) -> float:
        """Bits per second of the bit-packed token stream (all levels)."""
        return self.bitrate_of(self.depth or 1)

    def bitrate_of(self, codebooks: int) -> float:
        """Bits per second when only the first ``codebooks`` residual levels are kept."""
        return self.config.frame_rate * codebooks * math.ceil(math.log2(self.codebook_size))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(B, N) audio, N a multiple of hop -> (reconstruction (B, N), quantizer losses)."""
        quantized, _, losses = self.quantizer(self.encoder(audio))
        return self.decoder(quantized), losses

    def encode(self, audio: torch.Tensor, lengths: torch.Tensor | None = None, *,
               codebooks: int | None = None) -> torch.Tensor:
        """(B, N) audio -> (B, N // hop) int64 codes, or (B, N // hop, k) for residual quantizers (k =
        ``codebooks``, default all levels); ``lengths`` (B,) in samples for a zero-padded batch (codes past
        an item's length are junk)."""
        latents = self.encoder(audio, lengths)
        if self.depth is None:
            return self.quantizer.encode(latents)
        return self.quantizer.encode(latents, codebooks)

    def decode(self, codes: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T) codes, or (B, T, k <= depth) for residual quantizers -> (B, T * hop) audio; ``lengths``
        (B,) in tokens for a padded batch (audio past an item's length is zero)."""
        return self.decoder(self.quantizer.decode(codes), lengths)
