"""Duplicate decision on hand-made pairs: thresholds, target precision, calibration, pairs."""

from __future__ import annotations

import numpy as np
import pytest

from ticketsim.evaluation import duplicates, routing
from ticketsim.evaluation.metrics import Ranking


def pairset(kinds: list[str]) -> duplicates.PairSet:
    n = len(kinds)
    return duplicates.PairSet(np.arange(n), np.arange(n), np.array([k != "negative" for k in kinds],
                              dtype=np.int64), kinds, ["link" if k != "negative" else "hard"
                                                       for k in kinds])


def test_thresholds_and_calibration() -> None:
    kinds = ["duplicate"] * 4 + ["related"] * 2 + ["negative"] * 6
    scores = np.array([.95, .9, .85, .6, .7, .65, .8, .5, .4, .3, .2, .1])
    out = duplicates.fit_decision(scores, pairset(kinds), target_precision=0.75,
                                  threshold_rule="precision")
    # duplicates vs negatives (related left out): .95 .9 .85 D, .8 N, .6 D, .5 N ...
    # cut above .85: P 1, R .75, F1 .857; cut below .6: P .8, R 1, F1 .889 (best)
    assert out["best_f1"]["threshold"] == pytest.approx((0.6 + 0.5) / 2)
    assert out["best_f1"]["f1"] == pytest.approx(2 * .8 / 1.8)
    assert out["at_target_precision"]["reached"]
    assert out["at_target_precision"]["threshold"] == pytest.approx(0.6)
    assert out["at_target_precision"]["recall"] == pytest.approx(1.0)
    assert out["duplicate_threshold"] == pytest.approx(0.6)
    assert out["related_threshold"] <= out["duplicate_threshold"]
    a, b = out["calibration"]["a"], out["calibration"]["b"]
    assert a > 0 and 1 / (1 + np.exp(-(a * .95 + b))) > 1 / (1 + np.exp(-(a * .1 + b)))
    f1 = duplicates.fit_decision(scores, pairset(kinds), target_precision=0.75, threshold_rule="f1")
    assert f1["duplicate_threshold"] == pytest.approx(out["best_f1"]["threshold"])


def test_unreachable_precision_falls_back_to_f1() -> None:
    kinds = ["duplicate", "negative", "duplicate", "negative"]
    out = duplicates.fit_decision(np.array([.2, .9, .1, .8]), pairset(kinds),
                                  target_precision=0.99, threshold_rule="precision")
    assert not out["at_target_precision"]["reached"]
    assert out["threshold_rule"] == "f1"


def test_pairs_take_hard_negatives_from_the_models_own_results() -> None:
    ranking = Ranking("m", [0], [[(1, .9), (2, .8), (3, .7), (4, .6)]], [{}])
    p = duplicates.build_pairs(ranking, [{2: "duplicate"}], {frozenset((0, 3))}, [(0, 4)],
                               top_k=2, random_per_query=0, n_corpus=5, seed=0)
    assert list(zip(p.b.tolist(), p.kind, p.source, strict=True)) == [
        (2, "duplicate", "link"), (1, "negative", "hard"), (4, "negative", "hard"),
        (4, "negative", "labelled")]  # 3 is a known link: never a negative


def test_knn_routing_votes_by_similarity() -> None:
    split = np.array(["train", "train", "train", "test"], dtype=object)
    labels = np.array(["net", "net", "mail", "net"], dtype=object)
    m = np.array([[0, 0, 0, .9], [0, 0, 0, .8], [0, 0, 0, .95], [.9, .8, .95, 0]])
    out = routing.evaluate_routing(lambda q: m[q], split, {"category": labels}, k=3)
    assert out["category"]["accuracy"] == 1.0  # .9 + .8 for net beats .95 for mail
    out = routing.evaluate_routing(lambda q: m[q], split, {"category": labels}, k=1)
    assert out["category"]["accuracy"] == 0.0 and out["category"]["k"] == 1
