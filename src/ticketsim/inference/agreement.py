"""How closely two encoders (or two search engines) agree on the same texts.

The ONNX export checks its graphs against torch with these numbers, and the benchmarks
report them for every backend and keyword engine, so both use one definition: row cosine
of two embedding sets, and the overlap of top-k neighbour lists.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def overlap_at_k(a: Sequence[Sequence[int]], b: Sequence[Sequence[int]], k: int) -> float:
    """Mean share of the top ``k`` of ``a`` also in the top ``k`` of ``b``, list by list."""
    if not len(a):
        return 1.0
    return float(np.mean([len(set(x[:k]) & set(y[:k])) / k for x, y in zip(a, b, strict=True)]))


def _neighbours(emb: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` most similar rows (cosine of unit rows) of each query row, itself excluded."""
    s = emb[queries] @ emb.T
    s[np.arange(len(queries)), queries] = -np.inf
    return np.argpartition(-s, k, axis=1)[:, :k]


def neighbour_overlap(reference: np.ndarray, other: np.ndarray, k: int = 10,
                      queries: np.ndarray | None = None) -> float:
    """Top-``k`` neighbour overlap of two embedding sets of the same texts (1.0: same neighbours).

    ``queries``: the rows whose neighbours are compared (default all; a sample keeps large
    sets cheap); neighbours are always searched among all rows.
    """
    k = min(k, len(reference) - 1)
    if k <= 0:
        return 1.0
    q = np.arange(len(reference)) if queries is None else np.asarray(queries)
    return overlap_at_k(_neighbours(reference, q, k).tolist(), _neighbours(other, q, k).tolist(), k)


def agreement(reference: np.ndarray, other: np.ndarray, k: int = 10) -> dict[str, float]:
    """Row cosine (mean, min) and top-k neighbour overlap of two embedding sets of the same texts."""
    cos = np.einsum("ij,ij->i", reference, other)
    return {"cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()),
            f"top{k}_overlap": neighbour_overlap(reference, other, k)}
