"""Log-mel spectrograms with our own Slaney-style mel filterbank (no torchaudio)."""

from __future__ import annotations

import math

import torch


def hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    linear = hz * 3.0 / 200.0
    log = 15.0 + torch.log(hz.clamp_min(1e-9) / 1000.0) / (math.log(6.4) / 27.0)
    return torch.where(hz < 1000.0, linear, log)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`."""
    linear = mel * 200.0 / 3.0
    log = 1000.0 * torch.exp((mel - 15.0) * (math.log(6.4) / 27.0))
    return torch.where(mel < 15.0, linear, log)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None) -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1) triangular filters, area-normalised so each band measures energy density."""
    f_max = sample_rate / 2 if f_max is None else f_max
    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = mel_to_hz(torch.linspace(float(hz_to_mel(torch.tensor(f_min))), float(hz_to_mel(torch.tensor(f_max))),
                                     n_mels + 2, dtype=torch.float64))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None] - lower) / (centre - lower)
    falling = (upper - freqs[None]) / (upper - centre)
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    return (weights * (2.0 / (upper - lower))).float()


class LogMel(torch.nn.Module):
    """(B, N) audio -> (B, n_mels, frames) natural-log mel power, floored at ``eps``."""

    def __init__(self, sample_rate: int, n_fft: int, hop: int, n_mels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.n_fft, self.hop, self.eps = n_fft, hop, eps
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("filters", mel_filterbank(sample_rate, n_fft, n_mels), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, N) audio -> (B, n_mels, N // hop + 1) log mel power."""
        spec = torch.stft(audio, self.n_fft, self.hop, window=self.window, center=True, return_complex=True)
        return torch.log(torch.matmul(self.filters, spec.abs().square()).clamp_min(self.eps))
