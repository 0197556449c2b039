"""train.trainer.report_to: the trainer logs to TensorBoard, and the event files outlive the checkpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from training_helpers import make_run, tiny_cfg

from ticketsim.training.stage import CHECKPOINTS, LOGS, run_train


def _args_probe(seen: dict[str, Any]) -> Any:
    """A callback recording the arguments and callbacks of the trainer the stage built."""
    from transformers import TrainerCallback

    class Probe(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            seen["report_to"] = list(args.report_to)

    return Probe()


@pytest.mark.config_keys("train.trainer.report_to")
def test_tensorboard_events_hold_the_training_loss(tmp_path: Path, tiny_model_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    run = make_run(tmp_path / "run", "pair")
    cfg = tiny_cfg(tiny_model_dir, report_to=["tensorboard"], max_steps=4, logging_steps=1,
                   eval_strategy="no")
    seen: dict[str, Any] = {}
    res = run_train(cfg, run, callbacks=[_args_probe(seen)])
    assert seen["report_to"] == ["tensorboard"]  # the key reached the trainer's arguments
    assert res.summary["steps"] == 4
    assert not (run.path / CHECKPOINTS).exists()  # checkpoints are gone, the logs are not
    events = list((run.path / LOGS).rglob("events.out.tfevents.*"))
    assert len(events) == 1, events
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    assert "train/loss" in acc.Tags()["scalars"]
    loss = acc.Scalars("train/loss")
    assert [e.step for e in loss] == [1, 2, 3, 4]
    assert all(e.value > 0 for e in loss)
    # the same numbers as the stage's own log
    log = json.loads((run.path / "train" / "log.json").read_text())["log_history"]
    ours = [r["loss"] for r in log if "loss" in r]
    assert [e.value for e in loss] == pytest.approx(ours, rel=1e-5)


def test_no_tracker_writes_no_events(tmp_path: Path, tiny_model_dir: Path) -> None:
    run = make_run(tmp_path / "run", "pair")
    seen: dict[str, Any] = {}
    run_train(tiny_cfg(tiny_model_dir, max_steps=2, eval_strategy="no"), run,
              callbacks=[_args_probe(seen)])
    assert seen["report_to"] in ([], ["none"])
    assert not list((run.path).rglob("events.out.tfevents.*"))
