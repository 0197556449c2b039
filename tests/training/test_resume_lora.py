"""Resume after a kill gives the uninterrupted result; LoRA trains only an adapter, saved portably."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from training_helpers import make_run, tiny_cfg

from ticketsim.errors import TicketsimError
from ticketsim.training.stage import CHECKPOINTS, run_train

PROBE = ["vpn token network", "printer jam toner", "password reset locked"]


class Killed(Exception):
    """Stands in for a kill: raised from inside the training loop."""


def _kill_after(step: int):  # type: ignore[no-untyped-def]
    from transformers import TrainerCallback

    class KillAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            if state.global_step == step:
                raise Killed(f"killed at step {step}")

    return KillAt()


def _encode(folder: Path) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu").encode(PROBE)


def test_resume_after_kill_matches_uninterrupted(tmp_path: Path, tiny_model_dir: Path) -> None:
    settings = {"max_steps": 8, "save_steps": 4, "eval_strategy": "no", "logging_steps": 1}
    full = make_run(tmp_path / "full", "pair")
    run_train(tiny_cfg(tiny_model_dir, **settings), full)

    killed = make_run(tmp_path / "killed", "pair")
    cfg = tiny_cfg(tiny_model_dir, **settings)
    with pytest.raises(Killed):
        run_train(cfg, killed, callbacks=[_kill_after(6)])
    assert not (killed.path / "train").exists()
    assert (killed.path / CHECKPOINTS / "checkpoint-4").is_dir()
    with pytest.raises(TicketsimError, match="other pairs or train settings"):
        run_train(tiny_cfg(tiny_model_dir, **{**settings, "seed": 7}), killed, resume=True)
    res = run_train(cfg, killed, resume=True)
    assert res.summary["resumed"] and res.summary["steps"] == 8
    np.testing.assert_allclose(_encode(killed.path / "train" / "model"),
                               _encode(full.path / "train" / "model"), atol=1e-5)
    log = json.loads((killed.path / "train" / "log.json").read_text())["log_history"]
    assert [r["step"] for r in log if "loss" in r][-1] == 8
    with pytest.raises(TicketsimError, match="no checkpoint to resume from"):
        run_train(cfg, killed, resume=True)


@pytest.mark.config_keys("train.lora.enabled", "train.lora.r", "train.lora.alpha",
                         "train.lora.dropout", "train.lora.target_modules", "train.lora.merge")
def test_lora_adapter_is_portable_and_merges(tmp_path: Path, tiny_model_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from ticketsim.training.lora import add_lora, load_adapter_model

    base = tmp_path / "machine-a" / "base-model"
    shutil.copytree(tiny_model_dir, base)
    lora = {"enabled": True, "r": 4, "alpha": 16, "dropout": 0.1,
            "target_modules": ["query", "value"], "merge": True}
    cfg = tiny_cfg(base, lora=lora, max_steps=4, eval_strategy="no", learning_rate=1e-2)
    # the keys reach the PEFT config of the built model
    probe = SentenceTransformer(str(base), device="cpu")
    counts = add_lora(probe, cfg.train.lora)
    pc = probe[0].auto_model.peft_config["default"]
    assert (pc.r, pc.lora_alpha, pc.lora_dropout) == (4, 16, 0.1)
    assert set(pc.target_modules) == {"query", "value"}
    assert 0 < counts["trainable_share"] < 0.2

    run = make_run(tmp_path / "run", "pair")
    res = run_train(cfg, run)
    assert res.summary["lora"] and res.summary["trainable_share"] == counts["trainable_share"]
    out = run.path / "train"
    adapter_cfg = (out / "adapter" / "adapter_config.json").read_text()
    assert str(tmp_path) not in adapter_cfg and "/machine-a/" not in adapter_cfg
    assert json.loads(adapter_cfg)["base_model_name_or_path"] == "base-model"
    merged_before = _encode(out / "model")

    # move the run to "another machine": the original base path is gone
    moved = tmp_path / "machine-b" / "run"
    shutil.move(str(run.path), moved)
    shutil.move(str(base), tmp_path / "machine-b" / "base-model")
    assert not base.exists()
    np.testing.assert_allclose(_encode(moved / "train" / "model"), merged_before, atol=1e-6)
    again = load_adapter_model(moved / "train" / "adapter",
                               base_model=str(tmp_path / "machine-b" / "base-model"))
    np.testing.assert_allclose(again.encode(PROBE), merged_before, atol=1e-5)
    # the merged model differs from the base: the adapter trained
    assert np.abs(merged_before - _encode(tmp_path / "machine-b" / "base-model")).max() > 1e-3

    # merge: false keeps only the adapter
    run2 = make_run(tmp_path / "run2", "pair")
    shutil.copytree(tmp_path / "machine-b" / "base-model", base)
    res2 = run_train(tiny_cfg(base, lora={**lora, "merge": False}, max_steps=2,
                              eval_strategy="no"), run2)
    assert (res2.path / "adapter").is_dir() and not (res2.path / "model").exists()


def test_lora_default_learning_rate_is_higher(tiny_model_dir: Path) -> None:
    assert tiny_cfg(tiny_model_dir, learning_rate=None, lora={"enabled": True}).train.lr() == 2e-4
    assert tiny_cfg(tiny_model_dir, learning_rate=None).train.lr() == 3e-5


def test_unknown_lora_target_is_a_clear_error(pair_run, tiny_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = tiny_cfg(tiny_model_dir, lora={"enabled": True, "target_modules": ["q_proj"]})
    with pytest.raises(TicketsimError, match=r"LoRA target modules \['q_proj'\] do not exist"):
        run_train(cfg, pair_run)
