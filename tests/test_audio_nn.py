"""Shared audio blocks in tokkit.nn: exact "same" iSTFT, mel filterbank, ConvNeXt, losses."""

from __future__ import annotations

import pytest
import torch

from tokkit.nn.convnext import ConvNeXtStack
from tokkit.nn.losses import MultiResolutionMelLoss, MultiResolutionSTFTLoss
from tokkit.nn.mel import LogMel, hz_to_mel, mel_filterbank, mel_to_hz
from tokkit.nn.stft import SameSTFT


@pytest.mark.parametrize("n_fft,hop", [(1920, 480), (960, 240), (64, 16), (40, 20)])
def test_istft_inverts_stft_exactly(n_fft: int, hop: int) -> None:
    torch.manual_seed(0)
    stft = SameSTFT(n_fft, hop)
    audio = torch.randn(3, hop * 37, dtype=torch.float64).float()
    spec = stft(audio)
    assert spec.shape == (3, n_fft // 2 + 1, 37)
    assert torch.allclose(stft.inverse(spec), audio, atol=1e-5)


def test_istft_output_is_hop_samples_per_frame() -> None:
    stft = SameSTFT(64, 16)
    spec = torch.randn(2, 33, 11, dtype=torch.complex64)
    assert stft.inverse(spec).shape == (2, 11 * 16)


def test_stft_rejects_bad_geometry() -> None:
    with pytest.raises(ValueError):
        SameSTFT(16, 16)
    with pytest.raises(ValueError):
        SameSTFT(33, 16)


def test_mel_scale_round_trip_and_filterbank_shape() -> None:
    hz = torch.tensor([0.0, 200.0, 999.0, 1000.0, 4000.0, 11000.0], dtype=torch.float64)
    assert torch.allclose(mel_to_hz(hz_to_mel(hz)), hz, atol=1e-6)
    bank = mel_filterbank(24000, 1024, 80)
    assert bank.shape == (80, 513)
    assert (bank >= 0).all()
    peaks = bank.argmax(dim=1)
    assert (peaks[1:] >= peaks[:-1]).all() and peaks[-1] > peaks[0]
    assert (bank.sum(dim=1) > 0).all()


def test_log_mel_sees_a_tone_in_the_right_band() -> None:
    rate = 16000
    t = torch.arange(rate) / rate
    low, high = torch.sin(2 * torch.pi * 300 * t), torch.sin(2 * torch.pi * 5000 * t)
    mel = LogMel(rate, 512, 128, 40)
    assert mel(low[None]).mean(-1)[0].argmax() < mel(high[None]).mean(-1)[0].argmax()


def test_convnext_stack_keeps_length_and_reach_is_honest() -> None:
    torch.manual_seed(0)
    stack = ConvNeXtStack(5, 8, depth=2, hidden=16, kernel=7).eval()
    x = torch.randn(1, 5, 40)
    y = stack(x)
    assert y.shape == (1, 40, 8)
    bumped = x.clone()
    bumped[0, :, 20] += 1.0
    changed = (stack(bumped) - y).abs().sum(-1)[0] > 1e-7
    positions = changed.nonzero().flatten()
    assert positions.min() >= 20 - stack.reach and positions.max() <= 20 + stack.reach


def test_losses_are_zero_for_identical_audio_and_grow_with_error() -> None:
    torch.manual_seed(0)
    audio = torch.randn(2, 8000) * 0.1
    mel, stft = MultiResolutionMelLoss(16000), MultiResolutionSTFTLoss()
    assert mel(audio, audio).item() == pytest.approx(0.0, abs=1e-6)
    assert stft(audio, audio).item() == pytest.approx(0.0, abs=1e-6)
    small, large = audio + 0.01 * torch.randn_like(audio), audio + 0.1 * torch.randn_like(audio)
    assert 0 < mel(small, audio) < mel(large, audio)
    assert 0 < stft(small, audio) < stft(large, audio)
