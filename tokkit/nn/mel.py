"""Log-mel spectrograms with our own mel filterbanks (no torchaudio): Slaney (default, area-normalised)
or HTK (``scale="htk"``, ``area_norm=False``: what Vocos and torchaudio's default MelSpectrogram use)."""

from __future__ import annotations

import math

import torch


def hz_to_mel(hz: torch.Tensor, scale: str = "slaney") -> torch.Tensor:
    """Slaney mel scale (linear below 1 kHz, logarithmic above), or HTK's ``2595 log10(1 + hz / 700)``."""
    if scale == "htk":
        return 2595.0 * torch.log10(1.0 + hz / 700.0)
    linear = hz * 3.0 / 200.0
    log = 15.0 + torch.log(hz.clamp_min(1e-9) / 1000.0) / (math.log(6.4) / 27.0)
    return torch.where(hz < 1000.0, linear, log)


def mel_to_hz(mel: torch.Tensor, scale: str = "slaney") -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`."""
    if scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    linear = mel * 200.0 / 3.0
    log = 1000.0 * torch.exp((mel - 15.0) * (math.log(6.4) / 27.0))
    return torch.where(mel < 15.0, linear, log)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None,
                   *, scale: str = "slaney", area_norm: bool = True) -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1) triangular filters on the ``scale`` ("slaney" or "htk") mel axis; with
    ``area_norm`` each band is divided by its width so it measures energy density (unit peaks otherwise)."""
    if scale not in ("slaney", "htk"):
        raise ValueError(f"mel scale must be 'slaney' or 'htk', got {scale!r}")
    f_max = sample_rate / 2 if f_max is None else f_max
    top = sample_rate // 2 if scale == "htk" else sample_rate / 2  # torchaudio's HTK bins end at rate // 2
    freqs = torch.linspace(0, top, n_fft // 2 + 1, dtype=torch.float64)
    low, high = (float(hz_to_mel(torch.tensor(f, dtype=torch.float64), scale)) for f in (f_min, f_max))
    edges = mel_to_hz(torch.linspace(low, high, n_mels + 2, dtype=torch.float64), scale)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None] - lower) / (centre - lower)
    falling = (upper - freqs[None]) / (upper - centre)
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    return (weights * (2.0 / (upper - lower)) if area_norm else weights).float()


class LogMel(torch.nn.Module):
    """(B, N) audio -> (B, n_mels, frames) natural log of the mel-filtered ``|STFT| ** power``, floored at ``eps``.

    ``padding="center"``: frames centred on ``t * hop`` (reflect padding, ``N // hop + 1`` frames);
    ``"same"``: reflect-pad ``(n_fft - hop) // 2`` each side, no centring (Vocos's "same" features).
    Defaults: Slaney filters, power spectrum; Vocos: ``scale="htk", area_norm=False, power=1, eps=1e-7``.
    """

    def __init__(self, sample_rate: int, n_fft: int, hop: int, n_mels: int, eps: float = 1e-5, *,
                 scale: str = "slaney", area_norm: bool = True, power: float = 2.0, padding: str = "center") -> None:
        super().__init__()
        if padding not in ("center", "same"):
            raise ValueError(f"padding must be 'center' or 'same', got {padding!r}")
        self.n_fft, self.hop, self.eps, self.power, self.padding = n_fft, hop, eps, power, padding
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("filters", mel_filterbank(sample_rate, n_fft, n_mels, scale=scale, area_norm=area_norm),
                             persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, N) audio -> (B, n_mels, frames) log mel magnitude ** power (frames = N // hop + 1 centred)."""
        if self.padding == "same":
            pad = (self.n_fft - self.hop) // 2
            audio = torch.nn.functional.pad(audio[:, None], (pad, pad), mode="reflect")[:, 0]
        spec = torch.stft(audio, self.n_fft, self.hop, window=self.window, center=self.padding == "center",
                          return_complex=True).abs()
        spec = spec.square() if self.power == 2.0 else spec.pow(self.power)
        return torch.log(torch.matmul(self.filters, spec).clamp_min(self.eps))
