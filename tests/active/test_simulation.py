"""The simulation's decisions (ticketsim.active.simulation, driven by bench/active_learning.py).

Labels to reach random's final MRR@10 (interpolated between rounds), the oracle, the
paired verdict and pooling desks.
"""

from __future__ import annotations

import pytest

from ticketsim.active import simulation as sim


def _curve(*mrr: float, k: int = 30) -> list[dict]:
    return [{"labels": i * k, "mrr@10": m} for i, m in enumerate(mrr)]


def test_labels_are_interpolated_between_the_rounds_around_the_target() -> None:
    # target 0.75 lies a quarter of the way from 0.74 (30 labels) to 0.78 (60 labels)
    assert sim.labels_to_reach(_curve(0.70, 0.74, 0.78, 0.80), 0.75) == pytest.approx(37.5)
    assert sim.labels_to_reach(_curve(0.70, 0.72, 0.73), 0.73) == pytest.approx(60.0)


def test_never_reaching_is_none_and_round0_reaching_is_zero() -> None:
    assert sim.labels_to_reach(_curve(0.70, 0.71, 0.72), 0.75) is None
    assert sim.labels_to_reach(_curve(0.76, 0.71, 0.80), 0.75) == 0.0


def test_oracle_answers_from_truth() -> None:
    oracle = sim.Oracle({"groups": [{"id": 1, "tickets": ["A", "B", "C"]}],
                         "related": [["D", "A"]]})
    assert oracle.answer("C", "A") == (1, "duplicate", "duplicate")
    assert oracle.answer("A", "D") == (1, "related", "related")
    assert oracle.answer("B", "D") == (0, "related", "not related")


def test_loss_choice_reaches_the_config() -> None:
    assert sim.loss_tree("online_contrastive") == {"loss": "online_contrastive"}
    assert sim.loss_tree("mnrl")["losses"]["mnrl"]["hard_negatives"] == 1
    tree = sim.loss_tree("online_contrastive", 0.2)
    assert tree["losses"]["contrastive"]["margin"] == 0.2
    from ticketsim.config import TrainConfig

    assert TrainConfig(**tree).losses.contrastive.margin == 0.2  # a key the config knows
    assert "losses" not in sim.loss_tree("cosent", 0.2)  # cosent has no margin



def _per_query(*rounds: list[float]) -> list[dict[str, float]]:
    return [{f"q{i}": v for i, v in enumerate(r)} for r in rounds]


def test_verdict_is_void_when_random_did_not_move_the_model() -> None:
    # random's final round equals round 0 query by query: no gain to "reach"
    rr0 = [0.5, 1.0, 0.0, 0.25] * 25
    curves = {"random": _curve(0.4375, 0.4375), "uncertainty": _curve(0.4375, 0.5)}
    per_query = {"random": _per_query(rr0, rr0), "uncertainty": _per_query(rr0, [1.0] * 100)}
    v = sim.verdict_for(curves, per_query)
    assert v["done_when_met"] is None and not v["random_gain_over_round0"]["significant"]
    assert v["final_vs_random_final"]["uncertainty"]["significant"]


def test_verdict_met_when_a_strategy_gets_there_with_few_labels() -> None:
    rr0 = [0.0, 0.5] * 50
    better = [1.0, 0.5] * 50  # every query improved: the paired CI excludes zero
    curves = {"random": _curve(0.25, 0.30, 0.40, 0.75),
              "uncertainty": _curve(0.25, 0.75, 0.75, 0.75),   # there after 30 of 90 labels
              "diversity": _curve(0.25, 0.30, 0.50, 0.60)}     # never
    pq = {"random": _per_query(rr0, rr0, rr0, better),
          "uncertainty": _per_query(rr0, better, better, better),
          "diversity": _per_query(rr0, rr0, rr0, rr0)}
    v = sim.verdict_for(curves, pq)
    assert v["random_gain_over_round0"]["significant"]
    assert v["random_gain_over_round0"]["diff"] == pytest.approx(0.5)
    assert v["best_non_random"] == "uncertainty"
    assert v["best_share_of_random"] == pytest.approx(30 / 90)
    assert v["labels_to_reach_random_final"]["diversity"]["labels"] is None
    assert v["done_when_met"] is True
    # the same strategy needing 80 of 90 labels fails the 70 % bar
    curves["uncertainty"] = _curve(0.25, 0.30, 0.50, 0.80)
    assert sim.verdict_for(curves, pq)["done_when_met"] is False


def test_desks_are_pooled_query_by_query() -> None:
    def run(seed: int, rr: list[list[float]]) -> dict:
        return {"seed": seed,
                "curves": {"random": [{"round": i, "labels": 10 * i,
                                       "mrr@10": sum(r) / len(r), "positives_found": i}
                                      for i, r in enumerate(rr)]},
                "per_query": {"random": [{f"q{j}": v for j, v in enumerate(r)} for r in rr]}}

    # desk 0 has 1 query, desk 1 has 3: the pooled MRR weighs queries, not desks
    curves, pq = sim.combine([run(0, [[0.0], [1.0]]), run(1, [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]])])
    assert curves["random"][1]["mrr@10"] == pytest.approx((1.0 + 1.5) / 4)
    assert curves["random"][1]["per_seed"] == [1.0, 0.5]
    assert curves["random"][1]["positives_found"] == 2
    assert sorted(pq["random"][1]) == ["0:q0", "1:q0", "1:q1", "1:q2"]
