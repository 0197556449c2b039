"""Cold start (issue 17, points 1-2): no links, category only -> trains on category pairs,
evaluates routing, builds the index, and points to the labelling loop; exit 0."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from firstday_helpers import cli, cold_config

from ticketsim.rundir import RunDir


def test_cold_start_run_trains_on_category_pairs_and_finishes(cold_run: dict) -> None:
    res, run = cold_run["res"], cold_run["run"]
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout
    # said up front (before training), then the warning of the pairs stage
    assert out.index("cold start: no known links") < out.index("train: ")
    assert "warning: test 0: no held-out link" in out
    report = RunDir(run).summary("pairs")
    assert report["links"]["test"] == 0
    assert report["train"]["per_source"].get("category", 0) > 0  # category only is enough
    train = pd.read_parquet(run / "pairs" / "train.parquet")
    assert len(train) > 0 and (run / "train" / "model").is_dir()
    metrics = RunDir(run).summary("evaluate")
    assert metrics["cold_start"] and metrics["systems"] == {}
    assert {"bm25", "base", "finetuned"} <= set(metrics["routing"])
    for per in metrics["routing"].values():
        assert 0.0 <= per["category"]["accuracy"] <= 1.0 and per["category"]["n"] > 0
    assert "routing" in out and "link retrieval skipped" in out
    meta = json.loads((run / "index" / "meta.json").read_text())
    assert meta["model_path"] == "train/model"  # the fine-tuned model, stored relative
    assert f"ticketsim label session --run-dir {run}" in out
    assert f"ticketsim retrain --run-dir {run}" in out


def test_cold_start_without_anything_to_train_indexes_the_base_model(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    cfg = cold_config(tmp_path, tiny_model_dir)
    tree = json.loads(cfg.read_text())
    tree["data"]["columns"] = {}  # no categories and no links: views are the only positives
    tree["pairs"] = {"positives": {"views": "never"}}
    cfg.write_text(json.dumps(tree))
    res = cli("run", str(cfg), "--run-dir", str(tmp_path / "run"))
    assert res.returncode == 0, res.stderr[-3000:]
    assert not (tmp_path / "run" / "train").exists()
    assert "nothing is trained or evaluated" in res.stderr
    meta = json.loads((tmp_path / "run" / "index" / "meta.json").read_text())
    assert Path(meta["model_path"]) == tiny_model_dir.resolve()
    assert "label session" in res.stdout
