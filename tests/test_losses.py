"""The differentiable intelligibility loss tracks pystoi (the reference STOI) and gives gradients."""

from __future__ import annotations

import numpy as np
import torch
from pystoi import stoi

from audio_helpers import speechlike
from tokkit.nn.losses import IntelligibilityLoss


def test_intelligibility_loss_tracks_pystoi_on_noisy_speech() -> None:
    rate = 16000
    clean = speechlike(2.0, rate).astype(np.float32)
    rng = np.random.default_rng(0)
    loss = IntelligibilityLoss(rate)
    ours, reference = [], []
    for snr_db in (-10, -5, 0, 5, 15):
        noise = rng.standard_normal(clean.size).astype(np.float32)
        noise *= np.sqrt((clean ** 2).mean() / (noise ** 2).mean()) * 10 ** (-snr_db / 20)
        noisy = clean + noise
        ours.append(1.0 - float(loss(torch.from_numpy(noisy)[None], torch.from_numpy(clean)[None])))
        reference.append(stoi(clean, noisy, rate))
    np.testing.assert_allclose(ours, reference, atol=0.03)  # within 0.03 of pystoi, noise level by noise level
    assert np.corrcoef(ours, reference)[0, 1] > 0.99
    assert float(loss(torch.from_numpy(clean)[None], torch.from_numpy(clean)[None])) < 1e-5


def test_intelligibility_loss_has_gradients_for_the_prediction() -> None:
    clean = torch.from_numpy(speechlike(1.0, 24000).astype(np.float32))[None]
    predicted = (clean + 0.05 * torch.randn_like(clean)).requires_grad_(True)
    IntelligibilityLoss(24000)(predicted, clean).backward()
    assert predicted.grad is not None and torch.isfinite(predicted.grad).all() and predicted.grad.abs().sum() > 0
