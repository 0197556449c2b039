"""Random sampling among retrieved candidates: the control every other strategy must beat.

What it does: a seeded uniform sample of the candidate pool (never of all pairs: the
pool already holds only retrieved neighbours, so even the control asks sensible
questions). When to pick it: to measure what a strategy saves (bench/active_learning.py),
or when nothing else is known. What it needs: nothing but the pool.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ticketsim.active.candidates import CandidatePool
from ticketsim.active.strategies.base import take


class RandomStrategy:
    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def select(self, pool: CandidatePool, n: int) -> pd.DataFrame:
        pairs = pool.pairs
        rng = np.random.default_rng(self.seed)
        priority = pd.Series(rng.random(len(pairs)), index=pairs.index)
        reasons = pd.Series(["random candidate"] * len(pairs), index=pairs.index, dtype=object)
        return take(pairs, priority, reasons, n, self.seed)
