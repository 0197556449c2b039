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
    """Connected-component label of each of ``n`` tickets over links (scipy's csgraph).

    A component's label is its lowest ticket index, so the same links give the same labels
    (and so the same folds and splits) whatever their order, on every run."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pairs = np.asarray(list(edges), dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])),
                       shape=(n, n))
    component = connected_components(graph, directed=False)[1]
    _, lowest = np.unique(component, return_index=True)  # first ticket of each component
    return lowest[component].astype(np.int64)


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
