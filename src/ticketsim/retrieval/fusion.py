"""The one fusion function: weighted reciprocal rank fusion (RRF) over a window.

``fused(d) = sum_i weight_i / (rrf_k + rank_i(d))`` over the rankings that hold ``d`` within
their first ``window`` entries (ranks start at 1). Ties keep first appearance (dense
before keyword), so the fused order is deterministic. Pick hybrid search when exact
tokens (error codes, product and host names) matter as much as meaning.

The window is fixed (``search.window``), never widened to ``k``: a fused top 10 is then
the prefix of a fused top 100, so ``evaluate`` (which asks for 100) scores exactly the
top 10 that ``search`` and ``serve`` return.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence


def rrf(rankings: Sequence[Sequence[tuple[int, float]]], weights: Sequence[float], rrf_k: int,
        window: int | None = None) -> list[tuple[int, float]]:
    """Fused (key, score) best first from rankings (best first) and their weights."""
    fused: dict[int, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, (key, _) in enumerate(ranking[:window] if window else ranking, start=1):
            fused[key] = fused.get(key, 0.0) + w / (rrf_k + rank)
    return sorted(fused.items(), key=lambda kv: -kv[1])


@dataclasses.dataclass(frozen=True)
class Fusion:
    """The configured fusion (``search.rrf_k``, ``dense_weight``, ``keyword_weight``, ``window``)."""

    rrf_k: int = 60
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    window: int = 50

    def fuse(self, dense: Sequence[tuple[int, float]],
             keyword: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
        return rrf([dense, keyword], [self.dense_weight, self.keyword_weight], self.rrf_k,
                   self.window)
