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
    assert model.max_seq_length == 64  # trained at 32, saved reading what the base model read
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
    assert res.summary["time_budget"] is None
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


def test_validation_metric_is_the_one_it_names(pair_run: RunDir, tiny_model_dir: Path) -> None:
    """Summary, log line, log.json and early stopping all use the evaluator's mrr@10 (issue 15.5:
    the summary used to print the evaluator's primary metric, ndcg@10, as mrr@10)."""
    import pandas as pd
    from sentence_transformers import SentenceTransformer

    from ticketsim.training.evaluator import KEY, PRIMARY, build_evaluator

    cfg = tiny_cfg(tiny_model_dir, eval_steps=3, save_steps=3, early_stopping_patience=5)
    rep = ListReporter()
    res = run_train(cfg, pair_run, reporter=rep)
    s = res.summary
    assert s["validation_metric"] == "mrr@10" and f"eval_{KEY}" == PRIMARY
    p = pair_run.path / "pairs"
    ev = build_evaluator(pd.read_parquet(pair_run.path / "ingest" / "tickets.parquet"),
                         pd.read_parquet(p / "split.parquet"),
                         pd.read_parquet(p / "validation_links.parquet"),
                         cfg.train.eval_max_queries, 16, cfg.train.seed)
    assert ev.primary_metric.endswith("cosine_mrr@10")
    scores = ev(SentenceTransformer(str(res.path / "model"), device="cpu"))
    assert KEY.endswith("_mrr@10") and ev.primary_metric == KEY
    assert s["final_validation_mrr@10"] == pytest.approx(scores[KEY], abs=1e-6)
    # the log history names each evaluation's mrr@10; early stopping kept the best of them
    log = json.loads((res.path / "log.json").read_text())["log_history"]
    evals = [r for r in log if PRIMARY in r]
    assert len(evals) >= 2 and all("eval_validation_cosine_ndcg@10" in r for r in evals)
    assert s["best_metric"] == pytest.approx(max(r[PRIMARY] for r in evals))
    assert s["final_validation_mrr@10"] == pytest.approx(s["best_metric"], abs=1e-6)  # best kept
    # the progress lines print those very numbers
    lines = [m for m in rep.messages if "validation mrr@10" in m]
    assert [float(m.split()[-1]) for m in lines] == [round(r[PRIMARY], 4) for r in evals]

