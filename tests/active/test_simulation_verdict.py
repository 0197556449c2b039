"""The simulation's verdict: labels to reach random's final MRR@10, interpolated between rounds."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "active_learning.py"


@pytest.fixture(scope="module")
def sim():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_active_learning", BENCH)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _curve(*mrr: float, k: int = 30) -> list[dict]:
    return [{"labels": i * k, "mrr@10": m} for i, m in enumerate(mrr)]


def test_labels_are_interpolated_between_the_rounds_around_the_target(sim) -> None:  # type: ignore[no-untyped-def]
    # target 0.75 lies a quarter of the way from 0.74 (30 labels) to 0.78 (60 labels)
    assert sim.labels_to_reach(_curve(0.70, 0.74, 0.78, 0.80), 0.75) == pytest.approx(37.5)
    assert sim.labels_to_reach(_curve(0.70, 0.72, 0.73), 0.73) == pytest.approx(60.0)


def test_never_reaching_is_none_and_round0_reaching_is_zero(sim) -> None:  # type: ignore[no-untyped-def]
    assert sim.labels_to_reach(_curve(0.70, 0.71, 0.72), 0.75) is None
    assert sim.labels_to_reach(_curve(0.76, 0.71, 0.80), 0.75) == 0.0


def test_oracle_answers_from_truth(sim) -> None:  # type: ignore[no-untyped-def]
    oracle = sim.Oracle({"groups": [{"id": 1, "tickets": ["A", "B", "C"]}],
                         "related": [["D", "A"]]})
    assert oracle.answer("C", "A") == (1, "duplicate", "duplicate")
    assert oracle.answer("A", "D") == (1, "related", "related")
    assert oracle.answer("B", "D") == (0, "related", "not related")


def test_loss_choice_reaches_the_config(sim) -> None:  # type: ignore[no-untyped-def]
    assert sim.loss_tree("online_contrastive") == {"loss": "online_contrastive"}
    assert sim.loss_tree("mnrl")["losses"]["mnrl"]["hard_negatives"] == 1
