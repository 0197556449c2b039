"""The retriever protocol: rank one query against a corpus, best first.

A retriever answers ``rank(query, k, filters)`` with up to ``k`` ``(key, score)`` pairs,
best first; keys are the ticket store's integer keys. ``filters`` carries metadata
filters and the exclusion of the query's own ticket (``exclude_ids``), so every caller
excludes it the same way. Scores are each retriever's own (cosine, BM25, fused RRF,
cross-encoder logit); only the order is comparable across retrievers.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

import numpy as np

from ticketsim.index.base import Filters

MODES = ("dense", "keyword", "hybrid")
Ranked = list[tuple[int, float]]


@dataclasses.dataclass
class Query:
    """What a retriever may use: the text (keyword, re-ranking) and the unit vector (dense)."""

    text: str
    vector: np.ndarray | None = None


@runtime_checkable
class Retriever(Protocol):
    """Ranks the corpus for one query; ``filters`` restrict and exclude (the query's own ticket)."""

    name: str

    def rank(self, query: Query, k: int, filters: Filters | None = None) -> Ranked:
        """Up to ``k`` (key, score) best first."""
        ...
