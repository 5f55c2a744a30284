"""Reconstruction losses for audio codecs: multi-resolution log-mel L1 and multi-resolution STFT."""

from __future__ import annotations

from typing import Sequence

import torch

from tokkit.nn.mel import LogMel


class MultiResolutionMelLoss(torch.nn.Module):
    """Mean L1 distance between log-mel spectrograms at several (n_fft, hop, n_mels) resolutions."""

    def __init__(self, sample_rate: int, resolutions: Sequence[tuple[int, int, int]] = ((512, 128, 40), (1024, 256, 80), (2048, 512, 128))) -> None:
        super().__init__()
        self.mels = torch.nn.ModuleList(LogMel(sample_rate, n_fft, hop, n_mels) for n_fft, hop, n_mels in resolutions)

    def forward(self, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(B, N) audio pairs -> scalar loss."""
        return sum((mel(predicted) - mel(target)).abs().mean() for mel in self.mels) / len(self.mels)


class MultiResolutionSTFTLoss(torch.nn.Module):
    """Spectral convergence plus log-magnitude L1, averaged over several (n_fft, hop) resolutions."""

    def __init__(self, resolutions: Sequence[tuple[int, int]] = ((256, 64), (512, 128), (1024, 256), (2048, 512))) -> None:
        super().__init__()
        self.resolutions = list(resolutions)
        for n_fft, _ in self.resolutions:
            self.register_buffer(f"window_{n_fft}", torch.hann_window(n_fft), persistent=False)

    def forward(self, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(B, N) audio pairs -> scalar loss."""
        total = predicted.new_zeros(())
        for n_fft, hop in self.resolutions:
            window = getattr(self, f"window_{n_fft}")
            p = torch.stft(predicted, n_fft, hop, window=window, return_complex=True).abs().clamp_min(1e-7)
            t = torch.stft(target, n_fft, hop, window=window, return_complex=True).abs().clamp_min(1e-7)
            convergence = torch.linalg.vector_norm(t - p) / torch.linalg.vector_norm(t).clamp_min(1e-7)
            total = total + convergence + (p.log() - t.log()).abs().mean()
        return total / len(self.resolutions)


class IntelligibilityLoss(torch.nn.Module):
    """1 - a differentiable short-time objective intelligibility (STOI, Taal et al. 2011) of ``predicted``
    against ``target``: one-third-octave band envelopes (15 bands from 150 Hz) over 384 ms segments, the
    prediction scaled to the target's energy and clipped at -15 dB SDR, then correlated per band and segment.

    A training objective, not the metric: it skips STOI's 10 kHz resampling and silent-frame removal (frames
    are sized for 10 kHz at any ``sample_rate``, and bands end below its Nyquist frequency), so its values
    track pystoi's closely but are not equal to them (tests/test_losses.py measures the agreement).
    """

    def __init__(self, sample_rate: int, bands: int = 15, min_hz: float = 150.0, segment_frames: int = 30,
                 clip_db: float = -15.0) -> None:
        super().__init__()
        self.frame = round(256 * sample_rate / 10000)  # STOI's 25.6 ms frames, half overlapping
        self.hop = self.frame // 2
        self.n_fft = 1 << (2 * self.frame - 1).bit_length()
        self.segment = segment_frames
        self.clip = 1.0 + 10.0 ** (-clip_db / 20.0)
        self.register_buffer("window", torch.hann_window(self.frame + 2)[1:-1], persistent=False)
        self.register_buffer("bands", self._third_octave_bands(sample_rate, bands, min_hz), persistent=False)

    def _third_octave_bands(self, sample_rate: int, count: int, min_hz: float) -> torch.Tensor:
        """(bands, n_fft // 2 + 1) 0/1 matrix: FFT bins inside each one-third-octave band."""
        freqs = torch.linspace(0, sample_rate / 2, self.n_fft // 2 + 1, dtype=torch.float64)
        centres = min_hz * 2.0 ** (torch.arange(count, dtype=torch.float64) / 3)
        low, high = centres * 2.0 ** (-1 / 6), centres * 2.0 ** (1 / 6)
        return ((freqs[None] >= low[:, None]) & (freqs[None] < high[:, None])).float()

    def envelopes(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, N) audio -> (B, bands, frames) one-third-octave band magnitudes."""
        spec = torch.stft(audio, self.n_fft, self.hop, self.frame, window=self.window, center=False,
                          return_complex=True)
        return (self.bands @ spec.real.square().add(spec.imag.square())).clamp_min(1e-10).sqrt()

    def forward(self, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(B, N) audio pairs, N >= 30 frames (0.4 s) -> scalar loss in [0, 2]."""
        x = self.envelopes(target).unfold(2, self.segment, 1)  # (B, bands, segments, 30)
        y = self.envelopes(predicted).unfold(2, self.segment, 1)
        scale = x.norm(dim=-1, keepdim=True) / y.norm(dim=-1, keepdim=True).clamp_min(1e-10)
        y = torch.minimum(y * scale, x * self.clip)
        x = x - x.mean(-1, keepdim=True)
        y = y - y.mean(-1, keepdim=True)
        correlation = (x * y).sum(-1) / (x.norm(dim=-1) * y.norm(dim=-1)).clamp_min(1e-10)
        return 1.0 - correlation.mean()
