"""Uncertainty sampling: ask about the pairs whose duplicate probability is nearest the threshold.

What it does: ranks candidates by how close the calibrated duplicate probability
(``evaluate/thresholds.json``) is to the probability at the duplicate threshold; a
pair the model would decide either way is the one whose answer moves the boundary.
When to pick it: the default, once ``evaluate`` has fitted thresholds for the current
model. What it needs: thresholds for this model; without them it falls back to the
distance of the cosine score from the candidates' median score (and says so).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ticketsim.active.candidates import CandidatePool
from ticketsim.active.strategies.base import take


def uncertainty(pool: CandidatePool) -> tuple[np.ndarray, str]:
    """Per-pair closeness to the decision point in [0, 1] (1: on it), and what it measures."""
    pairs = pool.pairs
    if pool.has_probability:
        dist = np.abs(pairs["probability"].to_numpy() - float(pool.decision_probability or 0.5))
        return 1.0 - dist, "p"
    score = pairs["score"].to_numpy()
    mid = float(np.median(score)) if len(score) else 0.0
    return 1.0 - np.abs(score - mid), "cos"


class UncertaintyStrategy:
    name = "uncertainty"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def select(self, pool: CandidatePool, n: int) -> pd.DataFrame:
        closeness, what = uncertainty(pool)
        pairs = pool.pairs
        val = pairs["probability"] if what == "p" else pairs["score"]
        point = (f"threshold p={pool.decision_probability:.2f}" if what == "p"
                 else "median similarity (no thresholds)")
        reasons = pd.Series([f"{what}={v:.2f} near {point}" for v in val], index=pairs.index)
        return take(pairs, pd.Series(closeness, index=pairs.index), reasons, n, self.seed)
