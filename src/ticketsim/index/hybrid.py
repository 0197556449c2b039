"""Reciprocal rank fusion of a dense and a keyword ranking, with per-ranking weights.

``fused(d) = sum_r weight_r / (rrf_k + rank_r(d))`` over the rankings that hold ``d``
(ranks start at 1). Pick hybrid search when exact tokens (error codes, product and
host names) matter as much as meaning; it needs both rankings, each cut to a window.
"""

from __future__ import annotations

from collections.abc import Sequence


def rrf(rankings: Sequence[Sequence[tuple[int, float]]], weights: Sequence[float],
        rrf_k: int) -> list[tuple[int, float]]:
    """Fused (key, score) best first; ties broken by first appearance."""
    fused: dict[int, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, (key, _) in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + w / (rrf_k + rank)
    order = sorted(fused.items(), key=lambda kv: -kv[1])
    return order
