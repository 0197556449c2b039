"""Paired bootstrap confidence intervals over queries.

A gain is only sold as a gain when the interval of the difference to the best
baseline excludes zero. Queries are resampled with replacement; the same resample
is applied to both systems (paired), which is what makes small gains detectable.
"""

from __future__ import annotations

import numpy as np


def bootstrap_means(values: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """Means of ``samples`` resamples (with replacement) of ``values``."""
    rng = np.random.default_rng(seed)
    n = len(values)
    if n == 0:
        return np.full(samples, np.nan)
    idx = rng.integers(0, n, size=(samples, n))
    return values[idx].mean(axis=1)


def interval(values: np.ndarray, samples: int, seed: int, confidence: float) -> dict[str, float]:
    """Mean and percentile interval of the mean of ``values``."""
    means = bootstrap_means(values, samples, seed)
    alpha = (1.0 - confidence) / 2.0
    return {
        "mean": float(values.mean()) if len(values) else float("nan"),
        "low": float(np.quantile(means, alpha)),
        "high": float(np.quantile(means, 1.0 - alpha)),
        "samples": int(samples),
        "confidence": float(confidence),
    }


def paired_difference(a: np.ndarray, b: np.ndarray, samples: int, seed: int,
                      confidence: float) -> dict[str, float]:
    """Interval of mean(a - b) over queries; ``significant`` when it excludes zero."""
    out = interval(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64),
                   samples, seed, confidence)
    out["diff"] = out.pop("mean")
    out["significant"] = bool(out["low"] > 0 or out["high"] < 0)
    return out
