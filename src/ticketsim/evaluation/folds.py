"""Cluster folds of the evaluation queries, for a per-fold spread when links are few.

With a few dozen held-out links one number hides how much it depends on which
clusters happened to be held out. Queries are grouped into connected clusters of
linked tickets and the clusters dealt into ``k`` folds (largest first, each to the
currently smallest fold); metrics are then reported as mean and spread over folds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def clusters(n: int, edges: Iterable[tuple[int, int]]) -> np.ndarray:
    """Connected-component label of each of ``n`` tickets (union-find over links)."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(n)], dtype=np.int64)


def cluster_folds(query_idx: Sequence[int], labels: np.ndarray, k: int) -> np.ndarray:
    """Fold number of each query; all queries of one cluster share a fold."""
    q_clusters = labels[np.asarray(query_idx, dtype=np.int64)]
    uniq, counts = np.unique(q_clusters, return_counts=True)
    order = np.lexsort((uniq, -counts))
    sizes = np.zeros(k, dtype=np.int64)
    fold_of: dict[int, int] = {}
    for j in order:
        f = int(np.argmin(sizes))
        fold_of[int(uniq[j])] = f
        sizes[f] += counts[j]
    return np.array([fold_of[int(c)] for c in q_clusters], dtype=np.int64)
