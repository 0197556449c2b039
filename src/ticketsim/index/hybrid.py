"""Reciprocal rank fusion of a dense and a keyword ranking, with per-ranking weights.

``fused(d) = dense_weight / (rrf_k + rank_dense(d)) + keyword_weight / (rrf_k + rank_kw(d))``
over the rankings that hold ``d`` (ranks start at 1, each ranking cut to ``window``).
Pick hybrid search when exact tokens (error codes, product and host names) matter as
much as meaning; it needs both rankings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence


def rrf(rankings: Sequence[Sequence[tuple[int, float]]], weights: Sequence[float],
        rrf_k: int) -> list[tuple[int, float]]:
    """Fused (key, score) best first; ties keep first appearance."""
    fused: dict[int, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, (key, _) in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + w / (rrf_k + rank)
    return sorted(fused.items(), key=lambda kv: -kv[1])


@dataclasses.dataclass(frozen=True)
class Fusion:
    """The configured fusion of one searcher (``search.rrf_k``, weights and window)."""

    rrf_k: int = 60
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    window: int = 50

    def fuse(self, dense: Sequence[tuple[int, float]],
             keyword: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
        return rrf([dense[: self.window], keyword[: self.window]],
                   [self.dense_weight, self.keyword_weight], self.rrf_k)
