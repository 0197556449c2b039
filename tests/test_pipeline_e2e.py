"""The whole pipeline end to end on a few dozen tickets with a tiny random model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from ticketsim.config import config_from_dict
from ticketsim.pipeline import ORDER, run_all
from ticketsim.rundir import RunDir
from tinydata import write_tiny_export


def tiny_config(tmp_path: Path, model: Path) -> dict:
    tickets, links = write_tiny_export(tmp_path / "export", links_per_group=2, notes=True,
                                       hourly=True)
    return {
        "data": {"tickets": str(tickets), "links": str(links),
                 "links_store": str(tmp_path / "links.sqlite"),
                 "columns": {"category": "category", "subcategory": "subcategory",
                             "created": "created", "extra": ["notes"]}},
        "train": {"base_model": str(model), "trainer": {"num_train_epochs": 1}, "batch_size": 4, "max_seq_length": 32},
        "evaluate": {"crossfit_min_queries": 0},  # one split (tests/test_one_core.py cross-fits)
    }


def test_pipeline_runs_every_stage_and_skips_on_rerun(tmp_path: Path, tiny_model_dir: Path) -> None:
    cfg = config_from_dict(tiny_config(tmp_path, tiny_model_dir))
    run = RunDir(tmp_path / "run")
    results = run_all(cfg, run)
    assert [r.stage for r in results] == ORDER
    assert not any(r.skipped for r in results)
    for stage in ORDER:
        assert (run.path / stage / "_stamp.json").is_file(), stage

    split = pd.read_parquet(run.path / "pairs" / "split.parquet")
    test_ids = set(split.id[split.split == "test"])
    train = pd.read_parquet(run.path / "pairs" / "train.parquet")
    tickets = pd.read_parquet(run.path / "ingest" / "tickets.parquet").set_index("id")
    test_texts = set(tickets.loc[sorted(test_ids), "text"])
    assert test_ids and not (set(train.anchor) | set(train.positive)) & test_texts

    metrics = run.summary("evaluate")
    assert {"bm25", "base", "finetuned"} <= set(metrics["systems"])
    # held-out duplicates share some words with their originals: BM25 (deterministic on this
    # generated data) measured MRR@10 0.26; a broken split, corpus or metric scores 0
    assert metrics["systems"]["bm25"]["mrr@10"] > 0.1, metrics["systems"]["bm25"]
    card = (run.path / "train" / "model" / "README.md").read_text()  # held-out numbers on the card
    for system in ("bm25", "base", "finetuned"):
        assert f"| {system} | {metrics['systems'][system]['recall@1']:.3f} |" in card

    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(run.path / "train" / "model"), device="cpu")
    assert model.encode(["vpn drops"]).shape == (1, 32)

    again = run_all(cfg, run)
    assert all(r.skipped for r in again)

    # an unchanged rerun in a fresh process loads no model: torch and sentence-transformers
    # stay unimported (importing them was most of the 41 s a warm rerun took, issue 20)
    (tmp_path / "cfg.json").write_text(json.dumps(tiny_config(tmp_path, tiny_model_dir)))
    code = ("import json, sys; from ticketsim.config import config_from_dict; "
            "from ticketsim.pipeline import run_all; from ticketsim.rundir import RunDir; "
            f"cfg = config_from_dict(json.load(open({str(tmp_path / 'cfg.json')!r}))); "
            f"res = run_all(cfg, RunDir({str(run.path)!r})); "
            "print(all(r.skipped for r in res), sorted(m for m in ('torch', "
            "'sentence_transformers', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ), check=True).stdout.strip().splitlines()[-1]
    assert out == "True []", out


def test_search_cli_prints_closest_tickets(tmp_path: Path, tiny_model_dir: Path) -> None:
    tree = tiny_config(tmp_path, tiny_model_dir)
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(json.dumps(tree))
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1"}
    run_dir = str(tmp_path / "run")
    base = [sys.executable, "-m", "ticketsim.cli"]
    res = subprocess.run(base + ["run", str(cfg_path), "--run-dir", run_dir], capture_output=True,
                         text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    res = subprocess.run(base + ["search", "--run-dir", run_dir, "--json", "-k", "3", "vpn drops"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    hits = json.loads(res.stdout)
    assert len(hits) == 3 and all("notes" in h and "score" in h for h in hits)
    res = subprocess.run(base + ["search", "--run-dir", run_dir, "--id", "T001", "-k", "5"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "T001" not in res.stdout.split("closest tickets")[1].split("\n", 2)[2]


def test_demo_config_is_valid_and_maps_the_demo_columns(tmp_path: Path) -> None:
    from ticketsim.config import load_config
    from ticketsim.data.demo import generate_demo
    from ticketsim.data.ingest import build_tickets

    out = generate_demo(tmp_path / "data", n_tickets=120, seed=1)
    cfg = load_config(Path(__file__).parents[1] / "configs" / "demo.yaml",
                      [f"data.tickets={out.tickets_csv}"])
    df, counts = build_tickets(cfg.data)
    assert counts["rows_kept"] == 120 and df["id"].str.startswith("INC").all()
    assert df["resolution_notes"].str.len().gt(0).mean() > 0.5  # open tickets have none yet
