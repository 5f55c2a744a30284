"""GAN discriminators for waveform decoders (multi-period, as in HiFi-GAN; multi-resolution spectrogram,
as in UnivNet/Vocos) and their least-squares adversarial and feature-matching losses.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch.nn.utils.parametrizations import weight_norm

Features = list[torch.Tensor]


def _score(convs: torch.nn.ModuleList, out: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, Features]:
    """Run a leaky-ReLU conv stack and its output conv: the flat score and every layer's activations."""
    features = []
    for conv in convs:
        x = F.leaky_relu(conv(x), 0.1)
        features.append(x)
    x = out(x)
    return x.flatten(1), features + [x]


class PeriodDiscriminator(torch.nn.Module):
    """Folds (B, N) audio into (B, 1, N / period, period) and scores it with strided 2-D convs."""

    def __init__(self, period: int, width: int = 16) -> None:
        super().__init__()
        self.period = period
        channels = [1, width, 4 * width, 16 * width, 32 * width]
        self.convs = torch.nn.ModuleList(
            weight_norm(torch.nn.Conv2d(a, b, (5, 1), (3, 1), padding=(2, 0))) for a, b in zip(channels, channels[1:]))
        self.out = weight_norm(torch.nn.Conv2d(channels[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, Features]:
        """(B, N) audio -> (scores (B, 1, H, period), the feature maps of every conv layer)."""
        x = F.pad(audio, (0, -audio.shape[-1] % self.period), mode="reflect")
        x = x.reshape(x.shape[0], 1, -1, self.period)
        return _score(self.convs, self.out, x)


class SpectrogramDiscriminator(torch.nn.Module):
    """Scores the (B, 1, frames, bins) log-magnitude spectrogram at one STFT resolution."""

    def __init__(self, n_fft: int, hop: int, width: int = 16) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.convs = torch.nn.ModuleList([
            weight_norm(torch.nn.Conv2d(1, width, (7, 5), padding=(3, 2))),
            weight_norm(torch.nn.Conv2d(width, width, (5, 3), (1, 2), padding=(2, 1))),
            weight_norm(torch.nn.Conv2d(width, width, (5, 3), (1, 2), padding=(2, 1))),
            weight_norm(torch.nn.Conv2d(width, width, (5, 3), (1, 2), padding=(2, 1))),
            weight_norm(torch.nn.Conv2d(width, width, (3, 3), padding=(1, 1))),
        ])
        self.out = weight_norm(torch.nn.Conv2d(width, 1, (3, 3), padding=(1, 1)))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, Features]:
        """(B, N) audio -> (scores (B, 1, frames, bins), the feature maps of every conv layer)."""
        spec = torch.stft(audio, self.n_fft, self.hop, window=self.window, return_complex=True).abs()
        x = torch.log(spec.clamp_min(1e-5)).transpose(1, 2).unsqueeze(1)
        return _score(self.convs, self.out, x)


class Discriminators(torch.nn.Module):
    """Multi-period plus multi-resolution discriminators; ``forward`` returns every (score, features)."""

    def __init__(self, periods: Sequence[int] = (2, 3, 5, 7, 11),
                 resolutions: Sequence[tuple[int, int]] = ((512, 128), (1024, 256), (2048, 512)), width: int = 16) -> None:
        super().__init__()
        self.members = torch.nn.ModuleList([PeriodDiscriminator(p, width) for p in periods]
                                           + [SpectrogramDiscriminator(n, h, width) for n, h in resolutions])

    def forward(self, audio: torch.Tensor) -> list[tuple[torch.Tensor, Features]]:
        """(B, N) audio -> one (scores, feature maps) pair per member discriminator."""
        return [member(audio) for member in self.members]


def discriminator_loss(real: list[tuple[torch.Tensor, Features]], fake: list[tuple[torch.Tensor, Features]]) -> torch.Tensor:
    """Least-squares GAN loss for the discriminators: real scores -> 1, fake scores -> 0."""
    return sum(((1 - r).square().mean() + f.square().mean()) for (r, _), (f, _) in zip(real, fake)) / len(real)


def generator_losses(real: list[tuple[torch.Tensor, Features]], fake: list[tuple[torch.Tensor, Features]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(adversarial loss pushing fake scores to 1, L1 feature matching against detached real features)."""
    adversarial = sum((1 - f).square().mean() for f, _ in fake) / len(fake)
    matching = sum(sum((a - b.detach()).abs().mean() for a, b in zip(ff, rf)) / len(ff)
                   for (_, ff), (_, rf) in zip(fake, real)) / len(fake)
    return adversarial, matching
