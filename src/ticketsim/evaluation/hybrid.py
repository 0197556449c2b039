"""Hybrid BM25 + dense retrieval by reciprocal rank fusion (RRF).

Each candidate's fused score is ``sum over systems of 1 / (rrf_k + rank)`` within each
system's top ``window``; candidates outside every window score 0. Pick it when
keyword matches (error codes, product names) matter as much as meaning. Needs the
rankings of the two systems it fuses, so it is computed after them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ticketsim.evaluation.metrics import Ranking


def rrf_scores(rankings: Sequence[Ranking], n_corpus: int, rrf_k: int, window: int) -> np.ndarray:
    """(queries, corpus) fused scores from rankings over the same queries in the same order."""
    n_q = len(rankings[0].query_idx)
    fused = np.zeros((n_q, n_corpus), dtype=np.float64)
    for ranking in rankings:
        if ranking.query_idx != rankings[0].query_idx:
            raise ValueError("rankings to fuse must cover the same queries in the same order")
        for i, hits in enumerate(ranking.top):
            for rank, (c, _) in enumerate(hits[:window], start=1):
                fused[i, c] += 1.0 / (rrf_k + rank)
    return fused


class HybridScorer:
    """Serves rows of a precomputed fused matrix by query index."""

    def __init__(self, name: str, query_idx: Sequence[int], fused: np.ndarray) -> None:
        self.name = name
        self._row = {int(q): i for i, q in enumerate(query_idx)}
        self._fused = fused

    def __call__(self, query_idx: np.ndarray) -> np.ndarray:
        return self._fused[[self._row[int(q)] for q in query_idx]]
