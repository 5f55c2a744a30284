"""Data-mixture inference from a BPE merge list (Hayase et al., 2024): which share of each candidate
category (language, programming language, domain) went into a tokenizer's training data."""

from __future__ import annotations

from tokkit.analysis.mixture.infer import MixtureResult, infer_from_samples, infer_mixture

__all__ = ["MixtureResult", "infer_from_samples", "infer_mixture"]
