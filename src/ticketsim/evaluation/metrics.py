"""Ticket-to-ticket retrieval metrics, per query, on top of sentence-transformers' IR evaluator.

sentence-transformers' ``InformationRetrievalEvaluator`` computes the standard IR
metrics but (a) ranks the query's own document like any other (ticket-to-ticket
search must exclude it), (b) only returns averages (a bootstrap interval needs one
value per query) and (c) knows nothing about time. This module ranks candidates
itself (query excluded, optionally only tickets created before the query, ties
broken by ascending id exactly as the evaluator does) and hands the ranked lists
to the evaluator's own ``compute_metrics`` one query at a time, so the metric
definitions stay the library's.

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
"""Given query row indices, return a (len(queries), n_corpus) float score matrix."""


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


def order_keys(ids: Sequence[str]) -> np.ndarray:
    """Position of each id in ascending string order: the tie-break of sentence-transformers."""
    order = np.argsort(np.asarray(ids, dtype=object), kind="stable")
    keys = np.empty(len(ids), dtype=np.int64)
    keys[order] = np.arange(len(ids))
    return keys


def candidate_mask(
    query_idx: Sequence[int], n_corpus: int, created: np.ndarray | None = None
) -> np.ndarray:
    """Boolean (queries, corpus) matrix of allowed candidates.

    The query's own ticket is never a candidate; with ``created`` (datetime64 ns as int64,
    time-aware evaluation) only tickets created strictly before the query are.
    """
    q = np.asarray(query_idx, dtype=np.int64)
    mask = np.ones((len(q), n_corpus), dtype=bool)
    mask[np.arange(len(q)), q] = False
    if created is not None:
        mask &= created[None, :] < created[q][:, None]
    return mask


def rank_queries(
    system: str,
    score_fn: ScoreFn,
    query_idx: Sequence[int],
    relevant: Sequence[set[int]],
    tie_keys: np.ndarray,
    *,
    keep: int = MAP_K,
    created: np.ndarray | None = None,
    chunk: int = 256,
) -> Ranking:
    """Rank every allowed candidate for each query, in chunks so memory stays (chunk x corpus)."""
    n_corpus = len(tie_keys)
    top: list[list[tuple[int, float]]] = []
    rel_rank: list[dict[int, int]] = []
    q_all = list(query_idx)
    for start in range(0, len(q_all), chunk):
        q = q_all[start : start + chunk]
        scores = np.asarray(score_fn(np.asarray(q)), dtype=np.float64)
        allowed = candidate_mask(q, n_corpus, created)
        scores = np.where(allowed, scores, -np.inf)
        for row in range(len(q)):
            s = scores[row]
            n_allowed = int(np.isfinite(s).sum())
            k = min(keep, n_allowed)
            if k > 0:
                # candidates at or above the k-th score, then exact (-score, id) order
                kth = np.partition(s, n_corpus - k)[n_corpus - k]
                cand = np.flatnonzero(s >= kth)
                cand = cand[np.lexsort((tie_keys[cand], -s[cand]))][:k]
                top.append([(int(c), float(s[c])) for c in cand])
            else:
                top.append([])
            ranks: dict[int, int] = {}
            for r in relevant[start + row]:
                if not np.isfinite(s[r]):
                    continue
                better = (s > s[r]) | ((s == s[r]) & (tie_keys < tie_keys[r]))
                ranks[r] = int(better.sum()) + 1
            rel_rank.append(ranks)
    return Ranking(system, q_all, top, rel_rank)


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
        rows = [self.one(h, r) for h, r in zip(ranking.top, relevant, strict=True)]
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
