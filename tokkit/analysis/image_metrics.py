"""Image quality metrics: PSNR and SSIM (Wang, Bovik, Sheikh & Simoncelli 2004: 11x11 Gaussian window,
sigma 1.5, K1 = 0.01, K2 = 0.03, statistics over the "valid" region), on 8-bit pictures."""

from __future__ import annotations

from typing import Any

import numpy as np

WINDOW_RADIUS = 5  # an 11 x 11 window
SIGMA = 1.5
K1, K2 = 0.01, 0.03


def _pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"pictures differ in shape: {x.shape} vs {y.shape}")
    return x, y


def psnr(reference: Any, test: Any, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB over all pixels and channels (inf for identical pictures)."""
    x, y = _pair(reference, test)
    error = float(np.mean((x - y) ** 2))
    return float("inf") if error == 0 else 10.0 * np.log10(peak**2 / error)


def ssim(reference: Any, test: Any, peak: float = 255.0) -> float:
    """Mean SSIM; for colour pictures (H, W, C) the mean over channels. Needs H, W >= 11."""
    from scipy.ndimage import gaussian_filter

    x, y = _pair(reference, test)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    if min(x.shape[:2]) < 2 * WINDOW_RADIUS + 1:
        raise ValueError(f"SSIM needs pictures of at least 11x11 pixels, got {x.shape[:2]}")
    c1, c2 = (K1 * peak) ** 2, (K2 * peak) ** 2
    valid = (slice(WINDOW_RADIUS, -WINDOW_RADIUS), slice(WINDOW_RADIUS, -WINDOW_RADIUS))
    scores = []
    for channel in range(x.shape[2]):
        a, b = x[..., channel], y[..., channel]

        def blur(image: np.ndarray) -> np.ndarray:
            return gaussian_filter(image, SIGMA, truncate=WINDOW_RADIUS / SIGMA, mode="constant")[valid]

        mu_a, mu_b = blur(a), blur(b)
        var_a = blur(a * a) - mu_a**2
        var_b = blur(b * b) - mu_b**2
        cov = blur(a * b) - mu_a * mu_b
        index = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
        scores.append(float(index.mean()))
    return float(np.mean(scores))


def clip_scores(clip: Any, decoded: Any) -> dict[str, float]:
    """Mean per-frame PSNR and SSIM of two (T, H, W, 3) clips, and flicker: mean absolute error of the frame
    differences, |(d_t - d_{t-1}) - (x_t - x_{t-1})| over pixels (0..255), d decoded, x original."""
    clip, decoded = np.asarray(clip), np.asarray(decoded)
    diff_error = np.abs(np.diff(decoded.astype(np.float64), axis=0) - np.diff(clip.astype(np.float64), axis=0))
    return {"psnr": float(np.mean([psnr(a, b) for a, b in zip(clip, decoded)])),
            "ssim": float(np.mean([ssim(a, b) for a, b in zip(clip, decoded)])),
            "flicker": float(diff_error.mean()) if len(clip) > 1 else 0.0}
