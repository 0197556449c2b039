"""The loop: new labels reach the next run, `label suggest` / `label import` through the CLI,
and `retrain` continues from the fine-tuned model on the enlarged links."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from active_helpers import indexed_run, tiny_tree

from ticketsim.config import config_from_dict
from ticketsim.data.store import LinksStore
from ticketsim.pipeline import run_all
from ticketsim.rundir import RunDir

ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ticketsim.cli", *args], capture_output=True,
                          text=True, env=ENV, timeout=300)


def test_the_next_run_picks_up_new_labels_from_the_store(tmp_path: Path,
                                                         tiny_model_dir: Path) -> None:
    cfg = config_from_dict(tiny_tree(tmp_path, tiny_model_dir))
    run = RunDir(tmp_path / "run")
    assert not run_all(cfg, run, stages=["ingest"])[0].skipped
    assert run_all(cfg, run, stages=["ingest"])[0].skipped
    LinksStore(cfg.data.links_store).add([("T007", "T003", 0, None, "related")],
                                         source="label:session", who="dora")
    again = run_all(cfg, run, stages=["ingest"])[0]
    assert not again.skipped, "a new label must make ingest (and so every later stage) rerun"
    links = pd.read_parquet(run.path / "ingest" / "links.parquet").set_index(["a", "b"])
    row = links.loc[("T003", "T007")]
    assert (row.label, row.source, row.who) == (0, "label:session", "dora")


@pytest.mark.config_keys("label.n", "label.who")
def test_cli_suggest_then_import_lands_in_the_store(tmp_path: Path, tiny_model_dir: Path) -> None:
    cfg, run = indexed_run(tmp_path, tiny_model_dir)
    out = tmp_path / "todo.csv"
    res = cli("label", "suggest", "--run-dir", str(run.path), "-o", str(out), "--strategy",
              "disagreement")
    assert res.returncode == 0, res.stderr[-2000:]
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == cfg.label.n == 5  # label.n from the run's config
    assert {r["strategy"] for r in rows} == {"disagreement"}
    assert f"ticketsim label import {out} --run-dir {run.path}" in res.stdout  # complete
    known = LinksStore(cfg.data.links_store).known_pairs()
    assert not known & {(r["a"], r["b"]) for r in rows}
    # a formula-looking ticket text is escaped in the export
    cells = [v for r in rows for v in r.values() if v]
    assert not [c for c in cells if c[0] in "=+-@"]
    rows[0]["answer"], rows[1]["answer"] = "duplicate", "related"
    with out.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    res = cli("label", "import", str(out), "--run-dir", str(run.path))
    assert res.returncode == 0, res.stderr[-2000:]
    assert "2 answers added, 0 already known, 3 left blank" in res.stdout
    hist = LinksStore(cfg.data.links_store).history()
    assert hist.iloc[-2:]["who"].tolist() == ["tester", "tester"]  # label.who reached the store
    rows[0]["answer"] = "not related"
    rows[0]["b"] = "T999"
    with out.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    res = cli("label", "import", str(out), "--run-dir", str(run.path))
    assert res.returncode == 2
    assert "row 2, field 'b': unknown ticket id 'T999'" in res.stderr


def test_cli_reports_conflicts(tmp_path: Path) -> None:
    store = tmp_path / "links.sqlite"
    LinksStore(store).add([("A", "B", 1, None, "duplicate")], source="import:x")
    answers = tmp_path / "a.jsonl"
    answers.write_text(json.dumps({"a": "B", "b": "A", "answer": "n"}) + "\n")
    res = cli("label", "import", str(answers), "--run-dir", str(tmp_path / "run"),
              "--set", f"data.links_store={store}", "--who", "erin")
    assert res.returncode == 0, res.stderr
    assert "conflict: A / B was 1, now 0" in res.stdout
    res = cli("label", "conflicts", "--run-dir", str(tmp_path / "run"),
              "--set", f"data.links_store={store}")
    assert "1 pairs with conflicting labels" in res.stdout and "erin" in res.stdout


def test_retrain_continues_from_the_fine_tuned_model(tmp_path: Path, tiny_model_dir: Path) -> None:
    from ticketsim.active.retrain import retrain
    from ticketsim.models import model_fingerprint

    cfg = config_from_dict(tiny_tree(tmp_path, tiny_model_dir))
    first = RunDir(tmp_path / "run")
    run_all(cfg, first)
    prev_fp = model_fingerprint(first.path / "train" / "model")
    LinksStore(cfg.data.links_store).add([("T002", "T003", 1, None, "duplicate")],
                                         source="label:session", who="fay")
    second = RunDir(tmp_path / "run2")
    seen: list[str] = []
    res = retrain(cfg, first, second, before_run=lambda c: seen.append(c.train.base_model))
    assert res.previous_fingerprint == prev_fp
    assert model_fingerprint(res.base_model) == prev_fp  # the copy is the previous model
    assert seen == [str(res.base_model)] == [res.config.train.base_model]
    assert [r.stage for r in res.results] == ["ingest", "pairs", "train", "evaluate", "index"]
    assert not any(r.skipped for r in res.results)
    train_summary = json.loads((second.path / "train" / "summary.json").read_text())
    assert train_summary["base_model"] == str(res.base_model)
    assert model_fingerprint(second.path / "train" / "model") != prev_fp
    links = pd.read_parquet(second.path / "ingest" / "links.parquet")
    assert "fay" in set(links["who"])
    history = json.loads((second.path / "retrain" / "history.json").read_text())
    assert history[-1]["previous_fingerprint"] == prev_fp
    # in place: the base copy survives the train stage replacing train/model
    again = retrain(res.config, second)
    assert again.base_model.parent == second.path / "retrain" and again.base_model.is_dir()
