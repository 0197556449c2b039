"""Disagreement sampling: ask about pairs keyword search and the model rank very differently.

What it does: for each candidate (found from its anchor ticket), compares the other
ticket's exact rank under the model with its rank under BM25 (bm25s), on a log scale:
``|log2 dense_rank - log2 keyword_rank|``. A pair BM25 puts first and the model puts
200th (or the reverse) is one where one of the two is wrong, and the answer says which.
When to pick it: early, before thresholds exist, or when the desk's wording is full of
codes and product names the base model does not know. What it needs: ticket texts
(BM25 over them) and ``label.keyword_k > 0`` so keyword-only neighbours are candidates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ticketsim.active.candidates import CandidatePool
from ticketsim.active.strategies.base import take


class DisagreementStrategy:
    name = "disagreement"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def select(self, pool: CandidatePool, n: int) -> pd.DataFrame:
        pairs = pool.pairs
        d = np.log2(pairs["dense_rank"].to_numpy(dtype=np.float64))
        k = np.log2(pairs["keyword_rank"].to_numpy(dtype=np.float64))
        gap = np.abs(d - k)
        reasons = pd.Series(
            [f"model rank {dr}, keyword rank {kr}"
             for dr, kr in zip(pairs["dense_rank"], pairs["keyword_rank"], strict=True)],
            index=pairs.index)
        return take(pairs, pd.Series(gap, index=pairs.index), reasons, n, self.seed)
