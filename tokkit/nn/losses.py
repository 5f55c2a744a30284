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
