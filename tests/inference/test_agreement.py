"""Agreement numbers shared by the ONNX export check and the benchmarks."""

from __future__ import annotations

import numpy as np
import pytest

from ticketsim.inference.agreement import agreement, neighbour_overlap, overlap_at_k


def test_overlap_at_k_counts_shared_ids_per_list() -> None:
    assert overlap_at_k([[1, 2, 3, 4], [5, 6, 7, 8]], [[3, 2, 9, 9], [8, 7, 6, 5]], 2) == 0.25
    assert overlap_at_k([[1, 2]], [[2, 1]], 2) == 1.0


def test_neighbour_overlap_excludes_self_and_sees_a_swap() -> None:
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(40, 8))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    assert neighbour_overlap(emb, emb, k=5) == 1.0
    # a permuted copy has other neighbours for almost every row
    other = emb[rng.permutation(40)]
    assert neighbour_overlap(emb, other, k=5) < 0.5
    assert neighbour_overlap(emb, other, k=5, queries=np.arange(3)) == pytest.approx(
        overlap_at_k(_top(emb, 5)[:3], _top(other, 5)[:3], 5))
    a = agreement(emb, emb, k=5)
    assert a["cosine_min"] == pytest.approx(1.0) and a["top5_overlap"] == 1.0


def _top(emb: np.ndarray, k: int) -> list[list[int]]:
    s = emb @ emb.T
    np.fill_diagonal(s, -np.inf)
    return np.argsort(-s, axis=1)[:, :k].tolist()
