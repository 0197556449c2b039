"""The run-time estimate `ticketsim run` says before training: sizes, probe, budget cap."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from training_helpers import tiny_cfg

from ticketsim.pipeline import run_all
from ticketsim.progress import ListReporter
from ticketsim.rundir import RunDir
from ticketsim.training.estimate import estimate_run, recipe_steps


def test_estimate_counts_the_runs_sizes(pair_run: RunDir, tiny_model_dir: Path) -> None:
    cfg = tiny_cfg(tiny_model_dir, num_train_epochs=3)
    est = estimate_run(cfg, pair_run)
    pairs = len(pd.read_parquet(pair_run.path / "pairs" / "train.parquet"))
    assert est.pairs == pairs and est.tickets == 96 and est.max_seq_length == 32
    assert est.steps == est.recipe_steps == recipe_steps(cfg, pairs) == 3 * -(-pairs // 8)
    assert est.step_s > 0 and est.encode_per_s > 0
    # base, fine-tuned, and the leads (index.lead_weight auto: the served model's; routing_lead_
    # weight: the base model's), each bounded by a full pass
    assert est.evaluate_s == pytest.approx(4 * est.tickets / est.encode_per_s)
    fixed = estimate_run(cfg.model_copy(update={"index": cfg.index.read_as(0.0).model_copy(
        update={"routing_lead_weight": 0.0})}), pair_run)
    assert fixed.evaluate_s == pytest.approx(2 * fixed.tickets / fixed.encode_per_s)
    assert est.index_s == 0  # evaluate embedded the fine-tuned model into the run's cache
    assert est.total_s == est.train_s + est.evaluate_s + est.index_s
    assert est.train_s >= est.steps * est.step_s  # plus the early-stopping evaluations
    assert "estimate: train ~" in est.line() and f"{pairs:,} pairs at 32 tokens" in est.line()


def test_a_budget_caps_the_estimated_training(pair_run: RunDir, tiny_model_dir: Path) -> None:
    est = estimate_run(tiny_cfg(tiny_model_dir, num_train_epochs=10_000, time_budget="5s"), pair_run)
    assert est.recipe_steps > est.steps and est.train_s <= 5.0
    assert "(budget; recipe" in est.line()


def test_run_says_the_estimate_before_training_only_when_it_trains(
        pair_run: RunDir, tiny_model_dir: Path) -> None:
    cfg = tiny_cfg(tiny_model_dir, eval_strategy="no", save_steps=1000)
    rep = ListReporter()
    run_all(cfg, pair_run, stages=["train"], reporter=rep)
    first = [i for i, m in enumerate(rep.messages) if m.startswith("estimate: ")]
    trained = [i for i, m in enumerate(rep.messages) if m.startswith("train: max_seq_length")]
    assert len(first) == 1 and first[0] < trained[0]
    again = ListReporter()
    run_all(cfg, pair_run, stages=["train"], reporter=again)  # unchanged: skipped, no probe
    assert not any(m.startswith("estimate") for m in again.messages)


def test_the_encoder_and_the_cache_set_the_embedding_time(
        pair_run: RunDir, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """int8 embeds ~3x torch's rate (bench/results/encode.json); without evaluate's fine-tuned
    embeddings in the cache, index embeds every ticket itself."""
    from ticketsim.training import estimate

    rates: dict[str, float] = {}
    monkeypatch.setattr(estimate, "ENCODER_SPEEDUP", {**estimate.ENCODER_SPEEDUP, "torch": 1.0,
                                                      "onnx-int8": 1000.0})
    for encoder in ("torch", "onnx-int8"):
        cfg = tiny_cfg(tiny_model_dir).model_copy(deep=True)
        cfg.index.encoder = encoder
        rates[encoder] = estimate_run(cfg, pair_run).encode_per_s
    assert rates["onnx-int8"] > 100 * rates["torch"]  # the probe's rate times the speed-up
    cfg = tiny_cfg(tiny_model_dir).model_copy(deep=True)
    cfg.evaluate.systems = ["bm25", "base"]
    est = estimate_run(cfg, pair_run)
    assert est.index_s == est.tickets / est.encode_per_s


def test_cross_fitting_adds_a_training_and_an_embedding_per_fold(
        pair_run: RunDir, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run with few held-out links trains k fold models inside evaluate: on SeaMonkey the
    estimate said ~41 s for a run that took 1,162 s, 970 of them in evaluate's 5 folds."""
    from ticketsim.evaluation import crossfit

    cfg = tiny_cfg(tiny_model_dir)
    plain = estimate_run(cfg, pair_run)
    assert plain.folds == 0 and "cross-fitting" not in plain.line()
    monkeypatch.setattr(crossfit, "planned", lambda run: crossfit.Plan(
        k=5, held_out_queries=16, min_queries=50, linked_tickets=75))
    est = estimate_run(cfg, pair_run)
    n, rate = est.tickets, est.encode_per_s
    assert est.folds == 5
    # base, fine-tuned, their leads (lead_weight auto; routing_lead_weight: the base model's,
    # once); each fold: its training, every ticket and its leads
    assert est.evaluate_s == pytest.approx(4 * n / rate + 5 * (est.train_s + 2 * n / rate))
    assert "(with 5 cross-fitting trainings)" in est.line()


@pytest.mark.config_keys("train.domain_adaptation", "train.domain_adaptation_steps")
def test_domain_adaptation_adds_its_bound_to_the_training_estimate(pair_run: RunDir,
                                                                   tiny_model_dir: Path) -> None:
    from ticketsim.training.estimate import ENCODER_SPEEDUP, adaptation_s

    none = estimate_run(tiny_cfg(tiny_model_dir, domain_adaptation="none"), pair_run)
    assert none.adapt_s == 0 and "domain adaptation" not in none.line()
    est = estimate_run(tiny_cfg(tiny_model_dir, domain_adaptation="pseudo",
                                domain_adaptation_steps=3), pair_run)
    # pseudo: embed the pool (3 steps x batch 8 = 24 of the 96 tickets), then at most one
    # pass of pool / batch = 3 steps
    rate = est.encode_per_s / ENCODER_SPEEDUP["torch"]
    assert est.adapt_s == pytest.approx(24 / rate + 3 * est.step_s)
    assert est.train_s >= est.adapt_s + est.steps * est.step_s
    assert "domain adaptation up to ~" in est.line()
    cfg = tiny_cfg(tiny_model_dir, domain_adaptation="simcse", domain_adaptation_steps=5)
    assert adaptation_s(cfg.train, 96, 2.0, 10.0) == 10.0  # 5 steps x 2 s
