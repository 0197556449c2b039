"""A tiny indexed run for the active-learning tests: 40 tickets, tiny random model, thresholds."""

from __future__ import annotations

import json
from pathlib import Path

from ticketsim.config import Config, config_from_dict
from ticketsim.rundir import RunDir
from tinydata import TOPICS as BASE_TOPICS
from tinydata import write_tiny_export

# one text starts with "=" so the spreadsheet export's formula escaping is exercised
TOPICS = [(c, sub, [t.replace("password prompt in outlook", "=HYPERLINK(1) password in outlook")
                    for t in texts]) for c, sub, texts in BASE_TOPICS]


def tiny_tree(tmp: Path, model: Path, categories: bool = True) -> dict:
    tickets, links = write_tiny_export(tmp / "export", TOPICS, categories=categories)
    return {
        "data": {"tickets": str(tickets), "links": str(links),
                 "links_store": str(tmp / "links.sqlite"),
                 "columns": {"category": "category", "subcategory": "subcategory",
                             "created": "created"}},
        "train": {"base_model": str(model), "trainer": {"num_train_epochs": 1}, "batch_size": 4, "max_seq_length": 32},
        "label": {"n": 5, "candidates_k": 3, "keyword_k": 3, "who": "tester"},
    }


def indexed_run(tmp: Path, model: Path, *, thresholds: bool = True) -> tuple[Config, RunDir]:
    """ingest + index with the tiny model (no training), plus a thresholds file for it."""
    from ticketsim.models import model_fingerprint
    from ticketsim.pipeline import run_all
    from ticketsim.thresholds import Thresholds

    tree = tiny_tree(tmp, model)
    (tmp / "config.yaml").write_text(json.dumps(tree))
    cfg = config_from_dict(tree)
    run = RunDir(tmp / "run")
    run_all(cfg, run, stages=["ingest", "index"])
    (run.path / "config.yaml").write_text(json.dumps(tree))
    if thresholds:
        (run.path / "evaluate").mkdir(exist_ok=True)
        Thresholds(model_fingerprint=model_fingerprint(model), duplicate=0.8, related=0.6,
                   calib_a=10.0, calib_b=-8.0).save(run.path / "evaluate" / "thresholds.json")
    return cfg, run
