"""Retrieval metrics against hand-computed cases: self excluded, ties, several links, time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ticketsim.evaluation import bootstrap, folds, metrics
from ticketsim.evaluation.hybrid import rrf_scores

IDS = ["a", "b", "c", "d", "e"]


def scorer(matrix: np.ndarray):
    return lambda q: matrix[np.asarray(q)]


def test_query_itself_ranked_first_is_excluded() -> None:
    # a naive scorer ranks every ticket first for itself (score 1.0)
    m = np.eye(5) + np.array([[0, .9, .8, .1, .2]] * 5)
    r = metrics.rank_queries("naive", scorer(m), [0], [{2}], metrics.order_keys(IDS), keep=10)
    assert [c for c, _ in r.top[0]] == [1, 2, 4, 3]  # no 0 anywhere
    assert r.rel_rank[0] == {2: 2}
    qm = metrics.QueryMetrics(IDS, [1, 5])
    one = qm.one(r.top[0], {2})
    assert one["recall@1"] == 0.0 and one["recall@5"] == 1.0
    assert one["mrr@10"] == pytest.approx(0.5)
    assert one["ndcg@10"] == pytest.approx(1 / math.log2(3))
    assert one["map@100"] == pytest.approx(0.5)


def test_ties_are_broken_by_ascending_id() -> None:
    m = np.zeros((5, 5))
    m[0] = [9, .5, .5, .5, .1]  # b, c, d tied
    r = metrics.rank_queries("t", scorer(m), [0], [{3}], metrics.order_keys(IDS), keep=10)
    assert [c for c, _ in r.top[0]][:3] == [1, 2, 3]
    assert r.rel_rank[0] == {3: 3}
    assert metrics.QueryMetrics(IDS, [1]).one(r.top[0], {3})["mrr@10"] == pytest.approx(1 / 3)


def test_several_true_links_per_query() -> None:
    m = np.zeros((5, 5))
    m[0] = [0, .9, .8, .7, .6]  # b c d e; relevant c and e at ranks 2 and 4
    r = metrics.rank_queries("t", scorer(m), [0], [{2, 4}], metrics.order_keys(IDS))
    one = metrics.QueryMetrics(IDS, [1, 2, 5]).one(r.top[0], {2, 4})
    assert one["recall@1"] == 0 and one["recall@2"] == 1 and one["recall@5"] == 1
    assert one["mrr@10"] == pytest.approx(0.5)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert one["ndcg@10"] == pytest.approx(dcg / idcg)
    assert one["map@100"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert r.rel_rank[0] == {2: 2, 4: 4}


def test_query_with_no_found_link_scores_zero_and_mean_counts_it() -> None:
    m = np.zeros((5, 5))
    m[0] = [0, .9, .8, .7, .6]
    m[1] = [.9, 0, .1, .2, .3]
    r = metrics.rank_queries("t", scorer(m), [0, 1], [{1}, {2}], metrics.order_keys(IDS), keep=2)
    table = metrics.QueryMetrics(IDS, [1]).table(r, [{1}, {2}])
    assert table["mrr@10"].tolist() == [1.0, 0.0]  # c is rank 4 for b, outside keep=2
    assert r.rel_rank[1] == {2: 4}
    assert metrics.summarize(table)["mrr@10"] == pytest.approx(0.5)


def test_time_aware_mask_hides_newer_tickets() -> None:
    created = np.array([5, 1, 9, 2, 3], dtype=np.int64)
    m = np.tile(np.array([0, .1, .9, .5, .4]), (5, 1))
    r = metrics.rank_queries("t", scorer(m), [0], [{3}], metrics.order_keys(IDS),
                             created=created)
    assert [c for c, _ in r.top[0]] == [3, 4, 1]  # c (created 9) and the query itself are gone


def test_rrf_fuses_ranks() -> None:
    r1 = metrics.Ranking("x", [0], [[(1, .9), (2, .8)]], [{}])
    r2 = metrics.Ranking("y", [0], [[(2, 5.0), (3, 4.0)]], [{}])
    fused = rrf_scores([r1, r2], 5, rrf_k=60, window=1)
    assert fused[0].tolist() == pytest.approx([0, 1 / 61, 1 / 61, 0, 0])
    fused = rrf_scores([r1, r2], 5, rrf_k=1, window=2)
    assert fused[0, 2] == pytest.approx(1 / 3 + 1 / 2)


def test_paired_bootstrap_detects_only_real_gains() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, 300)
    better = bootstrap.paired_difference(base + 0.1, base, 500, 0, 0.95)
    assert better["significant"] and better["low"] == pytest.approx(0.1)
    noise = bootstrap.paired_difference(base + rng.normal(0, 0.3, 300), base, 500, 0, 0.95)
    assert not noise["significant"] and noise["low"] < 0 < noise["high"]


def test_cluster_folds_keep_clusters_together() -> None:
    labels = folds.clusters(6, [(0, 1), (1, 2), (3, 4)])
    assert labels.tolist() == [0, 0, 0, 3, 3, 5]
    f = folds.cluster_folds([0, 1, 3, 4, 5], labels, 2)
    assert f[0] == f[1] and f[2] == f[3] and f[0] != f[2]
    spread = metrics.fold_spread({"m": np.array([1.0, 1.0, 0.0, 0.0, 0.5])}, f)
    assert spread["m"]["mean"] == pytest.approx(np.mean(spread["m"]["per_fold"]))
