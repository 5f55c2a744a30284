"""STFT and its exact inverse with "same" padding: ``n`` samples (a multiple of ``hop``) <-> ``n / hop`` frames.

Frame ``t`` is centred on samples ``[t*hop, (t+1)*hop)``, so a model that predicts one spectral frame
per token produces exactly ``hop`` samples per token. Built on ``torch.stft`` and ``torch.fft.irfft``
with overlap-add by ``fold`` (``torch.istft`` cannot trim asymmetric "same" padding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class SameSTFT(torch.nn.Module):
    """Hann-windowed STFT whose frame count is ``samples // hop`` and whose inverse is exact.

    ``n_fft`` must be at least ``2 * hop`` and ``n_fft - hop`` even so the padding is symmetric.
    """

    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__()
        if n_fft < 2 * hop or (n_fft - hop) % 2:
            raise ValueError(f"need n_fft >= 2*hop and n_fft - hop even, got n_fft={n_fft}, hop={hop}")
        self.n_fft, self.hop, self.pad = n_fft, hop, (n_fft - hop) // 2
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, N) real audio, N a multiple of hop -> (B, bins, N // hop) complex spectrum."""
        padded = F.pad(audio.unsqueeze(1), (self.pad, self.pad), mode="reflect").squeeze(1)
        return torch.stft(padded, self.n_fft, self.hop, window=self.window, center=False, return_complex=True)

    def inverse(self, spec: torch.Tensor) -> torch.Tensor:
        """(B, bins, T) complex spectrum -> (B, T * hop) audio (weighted overlap-add, exact for our STFT)."""
        frames = torch.fft.irfft(spec, n=self.n_fft, dim=1) * self.window[None, :, None]
        t = spec.shape[-1]
        length = (t - 1) * self.hop + self.n_fft
        audio = F.fold(frames, (1, length), (1, self.n_fft), stride=(1, self.hop))[:, 0, 0]
        squared = self.window.square().expand(1, t, -1).transpose(1, 2)
        envelope = F.fold(squared, (1, length), (1, self.n_fft), stride=(1, self.hop))[0, 0, 0]
        trimmed = slice(self.pad, length - self.pad)
        return audio[:, trimmed] / envelope[trimmed].clamp_min(1e-11)


class ISTFTHead(torch.nn.Module):
    """Vocos's iSTFT head: a linear layer predicts log-magnitude and phase per frame, then the "same"-padding
    inverse STFT: (B, T, dim) -> (B, T * hop) audio (magnitude clipped at 1e2 as Vocos does)."""

    def __init__(self, dim: int, n_fft: int, hop: int) -> None:
        super().__init__()
        self.out = torch.nn.Linear(dim, n_fft + 2)
        self.istft = SameSTFT(n_fft, hop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, dim) -> (B, T * hop)."""
        magnitude, phase = self.out(x).transpose(1, 2).chunk(2, dim=1)
        magnitude = torch.clip(torch.exp(magnitude), max=1e2)
        return self.istft.inverse(magnitude * (torch.cos(phase) + 1j * torch.sin(phase)))
