"""Dense, keyword, hybrid and re-ranked retrievers over one ticket index, built from ``search``.

Each takes the :class:`~ticketsim.index.core.TicketIndex` it ranks (the ANN backend for
dense, the store's FTS5 table for keyword; filters and the query's own exclusion are
applied by the index in both). :func:`build` is the one place a mode name becomes a
retriever, used by :class:`~ticketsim.index.search.Searcher` and through it by
``evaluate``, ``search``, ``serve``, ``dedup`` and ``label``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from ticketsim.errors import TicketsimError
from ticketsim.index.base import Filters
from ticketsim.retrieval.base import MODES, Query, Ranked
from ticketsim.retrieval.fusion import Fusion


class DenseRetriever:
    """Cosine nearest neighbours of the query vector in the ANN index."""

    name = "dense"

    def __init__(self, index: Any) -> None:
        self.index = index

    def rank(self, query: Query, k: int, filters: Filters | None = None,
             allowed: Any = None) -> Ranked:
        """``allowed``: keys already filtered (dedup asks one query per selected ticket)."""
        if query.vector is None:
            raise ValueError("dense retrieval needs a query vector")
        hits = self.index.dense(query.vector, k, filters, allowed=allowed)
        # best first is the contract: HNSW may hand back near-ties (1e-7 apart) out of order
        return sorted(hits, key=lambda h: -h[1])


class KeywordRetriever:
    """BM25 over the index's FTS5 table (:mod:`ticketsim.retrieval.keyword`)."""

    name = "keyword"

    def __init__(self, index: Any) -> None:
        self.index = index

    def rank(self, query: Query, k: int, filters: Filters | None = None) -> Ranked:
        return self.index.keyword(query.text or "", k, filters)


class HybridRetriever:
    """Dense and keyword fused by :class:`~ticketsim.retrieval.fusion.Fusion` (fixed window)."""

    name = "hybrid"

    def __init__(self, dense: DenseRetriever, keyword: KeywordRetriever, fusion: Fusion) -> None:
        self.dense, self.keyword, self.fusion = dense, keyword, fusion

    def rank(self, query: Query, k: int, filters: Filters | None = None) -> Ranked:
        w = self.fusion.window
        return self.fusion.fuse(self.dense.rank(query, w, filters),
                                self.keyword.rank(query, w, filters))[:k]


class RerankedRetriever:
    """A cross-encoder re-scores the first ``top`` results of another retriever.

    Results past ``top`` follow in the inner order with score -inf, so a longer list is
    an extension of a shorter one (evaluate's top 100 starts with search's top 10).
    """

    def __init__(self, inner: Any, model: Any, top: int,
                 texts_of: Callable[[Sequence[int]], dict[int, str]]) -> None:
        self.inner, self.model, self.top, self.texts_of = inner, model, top, texts_of
        self.name = f"{inner.name}+rerank"

    def rank(self, query: Query, k: int, filters: Filters | None = None) -> Ranked:
        cand = self.inner.rank(query, max(k, self.top), filters)
        head, tail = cand[: self.top], cand[self.top:]
        if not head:
            return []
        texts = self.texts_of([key for key, _ in head])
        scores = self.model.predict([(query.text or "", texts.get(key, "")) for key, _ in head])
        order = sorted(range(len(head)), key=lambda i: -float(scores[i]))
        out = [(head[i][0], float(scores[i])) for i in order]
        return (out + [(key, -math.inf) for key, _ in tail])[:k]


def build(index: Any, mode: str, fusion: Fusion, reranker: Any = None,
          rerank_top: int = 20) -> Any:
    """The retriever for ``mode`` over ``index``, re-ranked when a cross-encoder is given."""
    if mode not in MODES:
        raise TicketsimError(f"unknown search mode '{mode}'", field="mode",
                             hint=f"use one of {', '.join(MODES)}")
    dense, keyword = DenseRetriever(index), KeywordRetriever(index)
    retriever: Any = {"dense": dense, "keyword": keyword,
                      "hybrid": HybridRetriever(dense, keyword, fusion)}[mode]
    if reranker is not None:
        retriever = RerankedRetriever(retriever, reranker, rerank_top, index.store.texts)
    return retriever
