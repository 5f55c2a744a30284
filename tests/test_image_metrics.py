"""PSNR and Gaussian-window SSIM: known values, and parity with scikit-image's implementation of Wang et al."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tokkit.analysis.image_metrics import psnr, ssim


def test_psnr_known_values() -> None:
    a = np.zeros((8, 8, 3))
    assert psnr(a, a) == math.inf
    assert psnr(a, a + 255) == pytest.approx(0.0)
    assert psnr(a, a + 2.55) == pytest.approx(40.0)


def test_ssim_of_identical_is_one_and_drops_with_noise() -> None:
    rng = np.random.default_rng(0)
    a = rng.random((32, 40, 3)) * 255
    assert ssim(a, a) == pytest.approx(1.0)
    noisy = [ssim(a, np.clip(a + rng.normal(0, s, a.shape), 0, 255)) for s in (5, 20, 60)]
    assert noisy[0] > noisy[1] > noisy[2]
    with pytest.raises(ValueError, match="11x11"):
        ssim(a[:10], a[:10])


@pytest.mark.parametrize("shape", [(24, 30), (33, 41, 3)])
def test_ssim_matches_scikit_image(shape) -> None:
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(1)
    a = rng.random(shape) * 255
    b = np.clip(a + rng.normal(0, 25, shape), 0, 255)
    expected = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255, channel_axis=2 if len(shape) == 3 else None)
    assert ssim(a, b) == pytest.approx(expected, abs=1e-9)
