"""Retrieval metrics against hand-computed cases: self excluded, ties, several links, time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ticketsim.evaluation import bootstrap, folds, metrics

IDS = ["a", "b", "c", "d", "e"]


def ranking(*tops: list[int], relevant: list[set[int]]) -> metrics.Ranking:
    """A Ranking as a retriever returns it: candidates best first (scores are retriever-specific)."""
    top = [[(c, 1.0) for c in t] for t in tops]  # equal scores: only the order may count
    rel = [{c: r for r, c in enumerate(t, start=1) if c in rr} for t, rr in zip(tops, relevant,
                                                                              strict=True)]
    return metrics.Ranking("t", list(range(len(tops))), top, rel)


def test_metrics_follow_the_retrievers_order_even_with_tied_scores() -> None:
    qm = metrics.QueryMetrics(IDS, [1, 5])
    one = qm.table(ranking([1, 2, 4, 3], relevant=[{2}]), [{2}])
    assert one["recall@1"][0] == 0.0 and one["recall@5"][0] == 1.0
    assert one["mrr@10"][0] == pytest.approx(0.5)
    assert one["ndcg@10"][0] == pytest.approx(1 / math.log2(3))
    assert one["map@100"][0] == pytest.approx(0.5)
    # the same candidates in another order: the tie is not re-broken by id
    assert qm.table(ranking([3, 2, 1], relevant=[{3}]), [{3}])["mrr@10"][0] == 1.0


def test_several_true_links_per_query() -> None:
    one = metrics.QueryMetrics(IDS, [1, 2, 5]).table(ranking([1, 2, 3, 4], relevant=[{2, 4}]),
                                                     [{2, 4}])
    assert one["recall@1"][0] == 0 and one["recall@2"][0] == 1 and one["recall@5"][0] == 1
    assert one["mrr@10"][0] == pytest.approx(0.5)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert one["ndcg@10"][0] == pytest.approx(dcg / idcg)
    assert one["map@100"][0] == pytest.approx((1 / 2 + 2 / 4) / 2)


def test_query_with_no_found_link_scores_zero_and_mean_counts_it() -> None:
    r = ranking([1, 2], [0, 3], relevant=[{1}, {2}])  # c is not in b's list
    table = metrics.QueryMetrics(IDS, [1]).table(r, [{1}, {2}])
    assert table["mrr@10"].tolist() == [1.0, 0.0]
    assert metrics.summarize(table)["mrr@10"] == pytest.approx(0.5)


def test_rrf_fuses_ranks_within_the_window() -> None:
    from ticketsim.retrieval.fusion import Fusion, rrf

    fused = dict(rrf([[(1, .9), (2, .8)], [(2, 5.0), (3, 4.0)]], [1, 1], rrf_k=60, window=1))
    assert fused == pytest.approx({1: 1 / 61, 2: 1 / 61})
    fused = dict(rrf([[(1, .9), (2, .8)], [(2, 5.0), (3, 4.0)]], [1, 1], rrf_k=1, window=2))
    assert fused[2] == pytest.approx(1 / 3 + 1 / 2)
    weighted = Fusion(rrf_k=1, dense_weight=2.0, keyword_weight=1.0, window=2)
    assert weighted.fuse([(1, .9)], [(3, 4.0)]) == [(1, 1.0), (3, 0.5)]
    # a fixed window: a longer list starts with the shorter one
    long = Fusion(window=2).fuse([(1, 0), (2, 0), (4, 0)], [(3, 0), (1, 0), (5, 0)])
    assert [k for k, _ in long] == [1, 3, 2]


def test_paired_bootstrap_detects_only_real_gains() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, 300)
    better = bootstrap.paired_difference(base + 0.1, base, 500, 0, 0.95)
    assert better["significant"] and better["low"] == pytest.approx(0.1)
    noise = bootstrap.paired_difference(base + rng.normal(0, 0.3, 300), base, 500, 0, 0.95)
    assert not noise["significant"] and noise["low"] < 0 < noise["high"]


def test_clusters_are_labelled_by_their_lowest_ticket_whatever_the_edge_order() -> None:
    rng = np.random.default_rng(0)
    edges = [(int(a), int(b)) for a, b in rng.integers(0, 60, (45, 2))]
    adjacent: dict[int, set[int]] = {i: set() for i in range(60)}
    for a, b in edges:
        adjacent[a].add(b)
        adjacent[b].add(a)

    def lowest_reachable(i: int) -> int:
        seen, todo = {i}, [i]
        while todo:
            for j in adjacent[todo.pop()] - seen:
                seen.add(j)
                todo.append(j)
        return min(seen)

    labels = folds.clusters(60, edges)
    assert labels.tolist() == [lowest_reachable(i) for i in range(60)]
    assert folds.clusters(60, edges[::-1]).tolist() == labels.tolist()
    assert len(set(labels.tolist())) < 60 and folds.clusters(3, []).tolist() == [0, 1, 2]


def test_cluster_folds_keep_clusters_together() -> None:
    labels = folds.clusters(6, [(0, 1), (1, 2), (3, 4)])
    assert labels.tolist() == [0, 0, 0, 3, 3, 5]
    f = folds.cluster_folds([0, 1, 3, 4, 5], labels, 2)
    assert f[0] == f[1] and f[2] == f[3] and f[0] != f[2]
    spread = metrics.fold_spread({"m": np.array([1.0, 1.0, 0.0, 0.0, 0.5])}, f)
    assert spread["m"]["mean"] == pytest.approx(np.mean(spread["m"]["per_fold"]))
