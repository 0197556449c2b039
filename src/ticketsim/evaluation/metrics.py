"""Ticket-to-ticket retrieval metrics, per query, on top of sentence-transformers' IR evaluator.

sentence-transformers' ``InformationRetrievalEvaluator`` computes the standard IR
metrics but ranks by its own scoring (the query's own document included) and only
returns averages (a bootstrap interval needs one value per query). Rankings here come
from the retrievers search serves (:mod:`ticketsim.retrieval`, query excluded,
optionally only older tickets); this module hands each ranked list, in the retriever's
order, to the evaluator's own ``compute_metrics`` one query at a time, so the metric
definitions stay the library's. The one MRR (and nDCG, MAP, Recall) of the project.

Names used here: ``recall@k`` is the share of queries with at least one true link
in the top k (the evaluator's ``accuracy@k``), ``mrr@10``, ``ndcg@10``, ``map@100``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

MRR_K = 10
NDCG_K = 10
MAP_K = 100

ScoreFn = Callable[[np.ndarray], np.ndarray]
"""Given query row indices, return a (len(queries), n_corpus) float score matrix (routing)."""


def metric_names(k_values: Sequence[int]) -> list[str]:
    """Every metric this module reports, in display order."""
    return [f"recall@{k}" for k in sorted(set(k_values))] + [
        f"mrr@{MRR_K}", f"ndcg@{NDCG_K}", f"map@{MAP_K}"
    ]


@dataclasses.dataclass
class Ranking:
    """One system's results for every evaluated query.

    ``top[i]``: the best ``keep`` candidates of query ``i`` as (corpus index, score), best
    first; ``rel_rank[i]``: 1-based rank of each relevant corpus index among all candidates.
    """

    system: str
    query_idx: list[int]
    top: list[list[tuple[int, float]]]
    rel_rank: list[dict[int, int]]


def exact_dense_ranking(system: str, emb: np.ndarray, query_idx: Sequence[int],
                        relevant: Sequence[set[int]], keep: int = MAP_K) -> Ranking:
    """Exact cosine ranking of unit ``emb`` rows (query excluded, ties by index), for benchmarks
    that have embeddings and no index; ``evaluate`` ranks through the Searcher instead."""
    q = np.asarray(query_idx, dtype=np.int64)
    s = emb[q] @ emb.T
    s[np.arange(len(q)), q] = -np.inf
    order = np.argsort(-s, axis=1, kind="stable")[:, :keep]
    top = [[(int(c), float(s[i, c])) for c in row] for i, row in enumerate(order)]
    rel = [{c: r for r, (c, _) in enumerate(t, start=1) if c in rr}
           for t, rr in zip(top, relevant, strict=True)]
    return Ranking(system, [int(x) for x in q], top, rel)


class QueryMetrics:
    """Per-query metrics through ``InformationRetrievalEvaluator.compute_metrics``."""

    def __init__(self, ids: Sequence[str], k_values: Sequence[int]) -> None:
        from sentence_transformers.sentence_transformer.evaluation import (
            InformationRetrievalEvaluator,
        )

        self.ids = list(ids)
        self.k_values = sorted(set(k_values))
        self.names = metric_names(self.k_values)
        self._ev = InformationRetrievalEvaluator(
            queries={}, corpus={}, relevant_docs={}, accuracy_at_k=self.k_values,
            precision_recall_at_k=self.k_values, mrr_at_k=[MRR_K], ndcg_at_k=[NDCG_K],
            map_at_k=[MAP_K], write_csv=False,
        )

    def one(self, hits: list[tuple[int, float]], relevant: set[int]) -> dict[str, float]:
        """Metrics of one query from its ranked (corpus index, score) list."""
        qid = "__query__"
        self._ev.queries_ids = [qid]
        self._ev.queries = [qid]
        self._ev.relevant_docs = {qid: {self.ids[r] for r in relevant}}
        result = self._ev.compute_metrics(
            [[{"corpus_id": self.ids[c], "score": s} for c, s in hits]]
        )
        out = {f"recall@{k}": float(result["accuracy@k"][k]) for k in self.k_values}
        out[f"mrr@{MRR_K}"] = float(result["mrr@k"][MRR_K])
        out[f"ndcg@{NDCG_K}"] = float(result["ndcg@k"][NDCG_K])
        out[f"map@{MAP_K}"] = float(result["map@k"][MAP_K])
        return out

    def table(self, ranking: Ranking, relevant: Sequence[set[int]]) -> dict[str, np.ndarray]:
        """Metric name -> per-query values (aligned with ``ranking.query_idx``)."""
        # the ranked order is the retriever's: scores become descending ranks, so ties in the
        # retriever's own scores (BM25) cannot be reordered by the evaluator
        rows = [self.one([(c, float(len(h) - r)) for r, (c, _) in enumerate(h)], rel)
                for h, rel in zip(ranking.top, relevant, strict=True)]
        return {m: np.array([row[m] for row in rows], dtype=np.float64) for m in self.names}


def summarize(per_query: dict[str, np.ndarray], index: np.ndarray | None = None) -> dict[str, float]:
    """Mean of each metric over all queries (or over ``index``)."""
    out: dict[str, float] = {}
    for name, values in per_query.items():
        v = values if index is None else values[index]
        out[name] = float(v.mean()) if len(v) else float("nan")
    return out


def fold_spread(per_query: dict[str, np.ndarray], folds: np.ndarray) -> dict[str, Any]:
    """Mean and standard deviation over folds of each metric's per-fold mean."""
    out: dict[str, Any] = {}
    labels = sorted(set(folds.tolist()))
    for name, values in per_query.items():
        per_fold = [float(values[folds == f].mean()) for f in labels if (folds == f).any()]
        out[name] = {"mean": float(np.mean(per_fold)), "std": float(np.std(per_fold)),
                     "per_fold": per_fold}
    return out
