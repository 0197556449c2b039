"""The train stage end to end on the tiny model: outputs, skipping, format checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from training_helpers import make_run, tiny_cfg

from ticketsim.errors import TicketsimError
from ticketsim.progress import ListReporter
from ticketsim.rundir import RunDir
from ticketsim.training.stage import CHECKPOINTS, run_train


@pytest.mark.config_keys("train.loss")
def test_train_writes_a_standard_model_folder(pair_run: RunDir, tiny_model_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    cfg = tiny_cfg(tiny_model_dir)
    rep = ListReporter()
    res = run_train(cfg, pair_run, reporter=rep)
    out = res.path
    assert not res.skipped and out == pair_run.path / "train"
    model = SentenceTransformer(str(out / "model"), device="cpu")
    assert model.max_seq_length == 32
    assert model.encode(["vpn token"]).shape == (1, 32)
    assert (out / "model" / "README.md").is_file()
    used = json.loads((out / "model" / "ticketsim_config.json").read_text())
    assert used == cfg.train.model_dump(mode="json")
    log = json.loads((out / "log.json").read_text())["log_history"]
    assert [r["step"] for r in log if "loss" in r][:3] == [1, 2, 3]
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "seqlen.png").read_bytes()[:4] == b"\x89PNG"
    seq = json.loads((out / "seqlen.json").read_text())
    assert seq["max_seq_length"] == 32 and seq["truncated_share"] == 0.0
    assert res.summary["steps"] > 0 and res.summary["final_validation_mrr@10"] is not None
    assert not (pair_run.path / CHECKPOINTS).exists()
    assert any("max_seq_length 32" in m for m in rep.messages)
    # unchanged inputs: skipped
    again = run_train(cfg, pair_run)
    assert again.skipped and again.summary["steps"] == res.summary["steps"]


@pytest.mark.parametrize(("loss", "fmt", "needs"), [
    ("mnrl", "labelled", "(anchor, positive) pairs"),
    ("triplet", "pair", "(anchor, positive, negative) triplets"),
    ("contrastive", "pair", "(sentence1, sentence2, label 0/1) labelled pairs"),
    ("cosent", "labelled", "(sentence1, sentence2, score 0..1) scored pairs"),
])
def test_incompatible_data_fails_before_training(tmp_path: Path, tiny_model_dir: Path, loss: str,
                                                 fmt: str, needs: str) -> None:
    run = make_run(tmp_path / "run", fmt)
    with pytest.raises(TicketsimError) as err:
        run_train(tiny_cfg(tiny_model_dir, loss=loss), run)
    msg = str(err.value)
    assert needs in msg and "train.parquet" in msg and "train.loss" in msg
    assert not (run.path / "train").exists()


def test_requires_pairs(tmp_path: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(TicketsimError, match="stage 'pairs' has not run"):
        run_train(tiny_cfg(tiny_model_dir), RunDir(tmp_path / "empty"))


def test_fp16_on_cpu_is_a_clear_error(pair_run: RunDir, tiny_model_dir: Path) -> None:
    with pytest.raises(TicketsimError, match="fp16 needs a CUDA GPU"):
        run_train(tiny_cfg(tiny_model_dir, precision="fp16"), pair_run)
