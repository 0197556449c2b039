"""train.time_budget: the trainer times its first steps and cuts max_steps to fit."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_helpers import built_trainer, tiny_cfg

from ticketsim.config import config_from_dict, duration_seconds
from ticketsim.errors import ConfigError
from ticketsim.progress import ListReporter
from ticketsim.rundir import RunDir
from ticketsim.training.stage import run_train
from ticketsim.training.trainer import TimeBudget


class StepClock:
    """A clock that advances one second per reading: one reading per step, plus the start."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("10m", 600), ("1h30m", 5400),
                                                ("1.5h", 5400), ("45", 45)])
def test_durations(text: str, seconds: float) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("bad", ["10 minutes", "m", "0s", "10m5"])
def test_a_bad_budget_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="train.time_budget"):
        config_from_dict({"train": {"time_budget": bad}})


def test_plan_cuts_the_steps_and_the_schedule_ends_there(tmp_path: Path,
                                                         tiny_model_dir: Path) -> None:
    rep = ListReporter()
    # 1 s per step: at step 4 (3 steps timed after the first) 16 s of the 20 remain = 16 steps
    budget = TimeBudget(20, rep, probe_steps=3, clock=StepClock())
    trainer, _, _ = built_trainer(tmp_path, tiny_model_dir, evaluator=False, num_train_epochs=30,
                                  warmup_steps=0.5, save_steps=1000)
    trainer.add_callback(budget.callback())
    trainer.train()
    info = budget.info
    recipe = 30 * len(trainer.get_train_dataloader())
    assert info["recipe_steps"] == recipe
    assert info["steps_per_s"] == pytest.approx(1.0) and info["measured_steps"] == 3
    assert info["planned_steps"] == 4 + 16 == trainer.state.global_step
    assert not info["stopped_by_budget"]
    assert trainer.lr_scheduler.get_last_lr()[0] == pytest.approx(0.0)  # decayed to the new end
    assert any(f"20 of the recipe's {recipe} steps fit" in m for m in rep.messages)


def test_hard_stop_when_the_budget_runs_out(tmp_path: Path, tiny_model_dir: Path) -> None:
    budget = TimeBudget(6, probe_steps=50, clock=StepClock())  # runs out before planning
    trainer, _, _ = built_trainer(tmp_path, tiny_model_dir, evaluator=False, num_train_epochs=30,
                                  save_steps=1000)
    trainer.add_callback(budget.callback())
    trainer.train()
    assert budget.info["stopped_by_budget"] and budget.info["steps_per_s"] is None
    assert trainer.state.global_step == budget.info["planned_steps"] == 6  # 6 s after the start


def test_the_recipe_is_kept_when_it_fits(tmp_path: Path, tiny_model_dir: Path) -> None:
    budget = TimeBudget(1000, probe_steps=2, clock=StepClock())
    trainer, _, _ = built_trainer(tmp_path, tiny_model_dir, evaluator=False, num_train_epochs=1,
                                  save_steps=1000)
    trainer.add_callback(budget.callback())
    trainer.train()
    steps = len(trainer.get_train_dataloader())
    assert budget.info["planned_steps"] == budget.info["recipe_steps"] == steps
    assert trainer.state.global_step == steps


@pytest.mark.config_keys("train.time_budget")
def test_budget_key_reaches_the_trainer_and_the_summary(pair_run: RunDir,
                                                        tiny_model_dir: Path) -> None:
    rep = ListReporter()
    cfg = tiny_cfg(tiny_model_dir, time_budget="2s", num_train_epochs=200, eval_strategy="no",
                   save_steps=1000)
    res = run_train(cfg, pair_run, reporter=rep)
    tb = res.summary["time_budget"]
    assert tb["budget"] == "2s" and tb["budget_s"] == 2.0
    assert tb["recipe_steps"] >= 200 * 9
    assert res.summary["steps"] == tb["planned_steps"] < tb["recipe_steps"]
    assert any("time budget 2 s" in m for m in rep.messages)
