"""Speech quality metrics, all at 16 kHz: STOI (``pystoi``, optional), log-mel L1 distance and SI-SDR, after
aligning the decoded signal to the reference by cross-correlation (at most 40 ms)."""

from __future__ import annotations

import importlib.util
import math

import numpy as np

#: the rate every signal is resampled to before scoring
EVAL_RATE = 16000
#: the largest shift :func:`align` tries, in samples at EVAL_RATE (40 ms)
MAX_LAG = 640


def stoi_available() -> bool:
    """True when ``pystoi`` is installed (STOI is then part of :func:`audio_scores`)."""
    return importlib.util.find_spec("pystoi") is not None


def pesq_available() -> bool:
    """True when the ``pesq`` package is installed (wideband PESQ is then part of :func:`audio_scores`)."""
    return importlib.util.find_spec("pesq") is not None


def mel_distance(reference: np.ndarray, decoded: np.ndarray) -> float:
    """Mean absolute difference of natural-log mel power (80 bands, 1024-point FFT, 16 kHz); lower is better."""
    import torch

    from tokkit.nn.mel import LogMel

    mel = LogMel(EVAL_RATE, 1024, 256, 80)
    with torch.inference_mode():
        a, b = (mel(torch.from_numpy(x.astype(np.float32))[None]) for x in (reference, decoded))
    return float((a - b).abs().mean())


def si_sdr(reference: np.ndarray, decoded: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (higher is better); both signals of one length (N,)."""
    reference, decoded = reference - reference.mean(), decoded - decoded.mean()
    target = reference * (decoded @ reference) / (reference @ reference + 1e-12)
    return float(10 * np.log10((target @ target) / ((decoded - target) @ (decoded - target) + 1e-12)))


def align(reference: np.ndarray, decoded: np.ndarray, max_lag: int = MAX_LAG) -> np.ndarray:
    """``decoded`` shifted by the lag (|lag| <= max_lag samples) that best matches ``reference``, same length."""
    from scipy.signal import correlate

    n = reference.size
    decoded = np.pad(decoded[:n], (0, max(0, n - decoded.size)))
    corr = correlate(decoded, reference, mode="full", method="fft")[n - 1 - max_lag:n + max_lag]
    lag = int(np.argmax(corr)) - max_lag
    return np.roll(np.pad(decoded, (max_lag, max_lag)), -lag)[max_lag:max_lag + n]


def audio_scores(reference: np.ndarray, decoded: np.ndarray, *, stoi: bool = True, pesq: bool = False) -> dict[str, float]:
    """STOI (when ``stoi`` and pystoi is installed), mel distance and SI-SDR of ``decoded`` against
    ``reference``, both mono (N,) at :data:`EVAL_RATE`; ``decoded`` is aligned first. With ``pesq`` and
    the ``pesq`` package installed, also wideband PESQ (NaN where PESQ finds no speech)."""
    decoded = align(reference, decoded)
    scores = {"mel": mel_distance(reference, decoded), "si_sdr": si_sdr(reference, decoded)}
    if stoi and stoi_available():
        from pystoi import stoi as pystoi_stoi

        scores = {"stoi": float(pystoi_stoi(reference, decoded, EVAL_RATE, extended=False)), **scores}
    if pesq and pesq_available():
        from pesq import pesq as wideband_pesq

        try:
            scores["pesq"] = float(wideband_pesq(EVAL_RATE, reference, decoded, "wb"))
        except Exception:  # noqa: BLE001 - pesq raises its own errors for inputs without speech
            scores["pesq"] = math.nan
    return scores
