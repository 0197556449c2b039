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


def test_unreachable_precision_gives_no_duplicate_label() -> None:
    kinds = ["duplicate", "negative", "duplicate", "negative"] * 5
    scores = np.array([.2, .9, .1, .8] * 5)
    out = duplicates.fit_decision(scores, pairset(kinds), target_precision=0.99,
                                  threshold_rule="precision", min_positives=1)
    assert not out["at_target_precision"]["reached"]
    assert out["threshold_rule"].startswith("none") and out["duplicate_threshold"] > 1.0
    assert out["labels"]["duplicate"]["labelled"] == 0
    assert out["labels"]["duplicate"]["words"] == (
        "duplicate: not measured (never given: no cosine cut reaches precision 0.99 on held-out "
        "pairs)")
    f1 = duplicates.fit_thresholds(scores, kinds, target_precision=0.99, threshold_rule="precision",
                                   unreachable="f1")
    assert f1 is not None and f1["rule"] == "f1" and f1["duplicate"] < 1.0


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


def test_knn_routing_scores_each_test_ticket_once_for_all_fields() -> None:
    rng = np.random.default_rng(3)
    n = 40
    m = rng.random((n, n))
    split = np.array(["train"] * 25 + ["test"] * 15, dtype=object)
    cat = rng.choice(["net", "mail", "hw"], n).astype(object)
    sub = rng.choice(["vpn", "dns", "smtp", "disk"], n).astype(object)
    sub[[26, 30, 31]] = ""  # fields label different test tickets
    calls: list[int] = []

    def score(q: np.ndarray) -> np.ndarray:
        calls.append(len(q))
        return m[q]

    both = routing.evaluate_routing(score, split, {"category": cat, "subcategory": sub}, k=3)
    assert calls == [15]  # one chunk of all 15 test tickets, not one per field
    for field, values in (("category", cat), ("subcategory", sub)):
        alone = routing.evaluate_routing(lambda q: m[q], split, {field: values}, k=3)[field]
        assert both[field].keys() == alone.keys()
        for key, value in alone.items():
            assert np.array_equal(both[field][key], value), key
    assert both["subcategory"]["n"] == 12
    # unsorted test tickets come back in the caller's order, chunked or not
    test, train = np.array([39, 27, 33, 25]), np.arange(25)
    one = [routing.knn_labels(lambda q: m[q], test[i:i + 1], train, cat, 3)[0] for i in range(4)]
    assert routing.knn_labels(lambda q: m[q], test, train, cat, 3, chunk=3) == one


# ----------------------------------------------------------------- labels a person can trust
def test_same_topic_results_are_related_pairs_and_shown_is_the_top_k() -> None:
    ranking = Ranking("m", [0], [[(1, .9), (2, .8), (3, .7), (4, .6)]], [{}])
    topic = duplicates.topic_keys([np.array(["mail", "mail", "net", "mail", ""], dtype=object),
                                   np.array(["outlook", "outlook", "vpn", "outlook", "x"],
                                            dtype=object)])
    assert topic is not None and topic[4] == "" and topic[0] == topic[1] != topic[2]
    p = duplicates.build_pairs(ranking, [{2: "duplicate"}], set(), [], top_k=2,
                               random_per_query=0, n_corpus=5, seed=0, topic=topic)
    assert list(zip(p.b.tolist(), p.kind, p.shown.tolist(), strict=True)) == [
        (2, "duplicate", True), (1, "topic", True), (3, "topic", False)]
    assert p.truth().tolist() == ["duplicate", "related", "related"]
    assert duplicates.topic_keys([np.array(["", ""], dtype=object)]) is None
    assert duplicates.topic_keys([]) is None


def _desk(n_queries: int = 20) -> tuple[np.ndarray, duplicates.PairSet]:
    """Per query: one duplicate (.9), two same-topic results (.6, .55), two others (.3, .5).

    Like the demo: a desk's top results are mostly tickets about the same issue that are
    not duplicates; the old rule counted them as negatives, so "related" never fired.
    """
    a, b, kinds, scores = [], [], [], []
    for q in range(n_queries):
        for j, (k, s) in enumerate([("duplicate", .9), ("topic", .6), ("topic", .55),
                                    ("negative", .5), ("negative", .3)]):
            a.append(q)
            b.append(100 + 10 * q + j)
            kinds.append(k)
            scores.append(s + 0.001 * (q % 3))
    n = len(a)
    pairs = duplicates.PairSet(np.array(a), np.array(b), np.array([k == "duplicate" for k in kinds],
                               dtype=np.int64), kinds,
                               ["link" if k == "duplicate" else "hard" for k in kinds],
                               np.ones(n, dtype=bool))
    return np.array(scores), pairs


def test_related_cut_takes_same_topic_results_as_related() -> None:
    scores, pairs = _desk()
    fit = duplicates.fit_thresholds(scores, pairs.kind, target_precision=0.9,
                                    threshold_rule="precision")
    assert fit is not None
    assert 0.6 < fit["duplicate"] <= 0.9  # topic pairs stay below the duplicate cut
    assert 0.5 < fit["related"] <= 0.55  # both topic results are related, the 0.5 one is not
    assert "max TPR-FPR" in fit["related_rule"]
    # without topic pairs nothing defines related: the cut keeps 9 in 10 duplicates
    plain = duplicates.fit_thresholds(scores, ["negative" if k == "topic" else k for k in pairs.kind],
                                      target_precision=0.9, threshold_rule="precision")
    assert plain is not None and not plain["related_measurable"] and fit["related_measurable"]


def test_label_stats_are_cross_fitted_counts_and_words() -> None:
    scores, pairs = _desk()
    fold_of = {q: q % 5 for q in range(20)}
    st = duplicates.label_stats(scores, pairs, fold_of, target_precision=0.9,
                                threshold_rule="precision", min_positives=10,
                                related_truth="same category and subcategory")
    # every fold's cuts separate the kinds exactly: 20 duplicates, 40 related, 20 + 20 unrelated
    assert (st["duplicate"]["labelled"], st["duplicate"]["correct"], st["duplicate"]["true"]) == (
        20, 20, 20)
    assert st["duplicate"]["precision"] == 1.0 and st["duplicate"]["recall"] == 1.0
    assert (st["related"]["labelled"], st["related"]["correct"]) == (40, 40)
    assert st["related"]["recall"] == 1.0  # 60 duplicate-or-related pairs, none called unrelated
    assert (st["unrelated"]["labelled"], st["unrelated"]["correct"]) == (40, 40)
    assert all(v["measured"] for v in st.values())
    assert st["duplicate"]["words"] == (
        "duplicate: all are real duplicates (20 of 20); finds all of them (20 of 20)")
    assert "related = same category and subcategory" in st["related"]["words"]
    few = duplicates.label_stats(scores, pairs, fold_of, target_precision=0.9,
                                 threshold_rule="precision", min_positives=21, related_truth="x")
    assert not few["duplicate"]["measured"]
    assert few["duplicate"]["words"] == ("duplicate: not measured (only 20 held-out duplicate "
                                         "pairs (fewer than 21))")
    one = duplicates.label_stats(scores, pairs, {q: 0 for q in range(20)}, target_precision=0.9,
                                 threshold_rule="precision", min_positives=1, related_truth="x")
    assert not any(v["measured"] for v in one.values())
    assert "too few link clusters" in one["related"]["words"]


def test_label_stats_count_what_a_person_sees() -> None:
    scores, pairs = _desk()
    # the .3 results are not shown: they leave the population (they are unrelated and labelled so)
    pairs.shown = np.array([s >= 0.5 for s in scores])
    st = duplicates.label_stats(scores, pairs, {q: q % 5 for q in range(20)},
                                target_precision=0.9, threshold_rule="precision",
                                min_positives=10, related_truth="x")
    assert st["unrelated"]["labelled"] == 20 and st["unrelated"]["true"] == 20
    no_topic = [("negative" if k == "topic" else k) for k in pairs.kind]
    plain = duplicates.PairSet(pairs.a, pairs.b, pairs.label, no_topic, pairs.source, pairs.shown)
    st = duplicates.label_stats(scores, plain, {q: q % 5 for q in range(20)},
                                target_precision=0.9, threshold_rule="precision",
                                min_positives=10, related_truth="x")
    assert not st["related"]["measured"] and "no related links and no categories" in \
        st["related"]["why_not"]
    assert st["duplicate"]["measured"]


@pytest.mark.parametrize(("x", "words"), [(0.9, "9 in 10"), (0.14, "1 in 7"), (1.0, "all"),
                                          (0.0, "none"), (0.97, "97 in 100"), (0.25, "3 in 10"),
                                          (0.02, "1 in 50")])
def test_ratio_words(x: float, words: str) -> None:
    from ticketsim.thresholds import ratio

    assert ratio(x) == words


def test_describe_says_precision_and_recall_in_words() -> None:
    from ticketsim.thresholds import describe

    st = {"measured": True, "precision": 27 / 30, "recall": 27 / 190, "labelled": 30,
          "correct": 27, "true": 190, "found": 27}
    assert describe("duplicate", st) == (
        "duplicate: 9 in 10 are real duplicates (27 of 30); finds 1 in 7 of them (27 of 190)")
    rel = describe("related", {**st, "truth": "same category and subcategory"})
    assert rel.startswith("related: 9 in 10 are related or duplicates (27 of 30; related = same "
                          "category and subcategory); with duplicate, finds 1 in 7")
    assert describe("unrelated", st).startswith("unrelated: 9 in 10 are really unrelated")
    assert describe("related", {"measured": False, "why_not": "no categories"}) == (
        "related: not measured (no categories)")


def test_related_cut_separates_even_when_most_results_share_the_topic() -> None:
    # 20 same-topic results per unrelated one, overlapping scores: best F1 calls nearly
    # everything related (the unrelated label then hardly fires); max TPR - FPR keeps both useful
    rng = np.random.default_rng(0)
    topic = rng.normal(0.6, 0.1, 1000)
    other = rng.normal(0.45, 0.1, 50)
    dup = rng.normal(0.85, 0.03, 20)
    scores = np.concatenate([dup, topic, other])
    kinds = ["duplicate"] * 20 + ["topic"] * 1000 + ["negative"] * 50
    youden = duplicates.fit_thresholds(scores, kinds, target_precision=0.9, threshold_rule="precision")
    f1 = duplicates.fit_thresholds(scores, kinds, target_precision=0.9, threshold_rule="precision",
                                   related_rule="f1")
    assert youden is not None and f1 is not None
    share_unrelated = {name: float(np.mean(other < fit["related"]))
                       for name, fit in (("youden", youden), ("f1", f1))}
    assert share_unrelated["youden"] > 0.7 > 0.2 > share_unrelated["f1"], share_unrelated
    assert 0.45 < youden["related"] < 0.6


def test_routing_rows_are_paired_with_the_base_models_row_of_the_same_kind() -> None:
    """A fine-tuned model's vote is compared with the base model's vote and its suggestion with
    the base's suggestion, ticket by ticket; the per-ticket arrays never leave the function."""
    tickets = np.arange(8)

    def row(correct: list[int]) -> dict:
        return {"accuracy": float(np.mean(correct)), "n": 8, "_tickets": tickets,
                "_correct": np.asarray(correct, dtype=bool)}

    route = {"base": {"category": row([1, 1, 1, 1, 0, 0, 0, 0])},
             "base (suggestion)": {"category": row([1, 1, 1, 1, 1, 1, 0, 0])},
             "ft": {"category": row([1, 1, 1, 1, 1, 1, 1, 1])},
             "ft (suggestion)": {"category": row([1, 1, 0, 0, 0, 0, 0, 0])},
             "other": {"category": {**row([1] * 8), "_tickets": tickets + 1}}}
    out = routing.paired_vs_base(route, samples=500, seed=0, confidence=0.95)
    assert not any(k.startswith("_") for per in out.values() for v in per.values() for k in v)
    ft, sug = out["ft"]["category"]["vs_base"], out["ft (suggestion)"]["category"]["vs_base"]
    assert ft["base"] == "base" and ft["diff"] == 0.5  # 8/8 against the vote's 4/8
    assert sug["base"] == "base (suggestion)" and sug["diff"] == -0.5  # 2/8 against 6/8
    assert ft["low"] > 0 and ft["significant"] and sug["high"] < 0 and sug["significant"]
    assert "vs_base" not in out["base"]["category"]  # the base is not compared with itself
    assert "vs_base" not in out["other"]["category"]  # other tickets: no pairing
    assert "vs_base" not in routing.paired_vs_base({"ft": route["ft"]}, 500, 0, 0.95)["ft"][
        "category"]  # no base row, no comparison
