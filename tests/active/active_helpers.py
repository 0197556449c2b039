"""A tiny indexed run for the active-learning tests: 40 tickets, tiny random model, thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ticketsim.config import Config, config_from_dict
from ticketsim.rundir import RunDir

TOPICS = [
    ("Network", "VPN", ["vpn drops every few minutes", "vpn disconnects from home",
                        "cannot keep vpn connection", "vpn keeps dropping at home"]),
    ("Email", "Outlook", ["outlook asks for password again", "outlook password prompt loop",
                          "outlook keeps asking password", "=HYPERLINK(1) password in outlook"]),
    ("Hardware", "Printer", ["printer jam on floor two", "printer paper jam again",
                             "paper jam printer floor", "printer keeps jamming"]),
    ("Access", "Account", ["account locked after login", "locked account cannot login",
                           "login fails account locked", "my account is locked"]),
    ("Software", "Install", ["install excel license error", "excel license install fails",
                             "cannot install excel license", "license error installing excel"]),
]


def write_export(folder: Path, categories: bool = True) -> tuple[Path, Path]:
    rows, links = [], []
    n = 0
    for day, (cat, sub, texts) in enumerate(TOPICS * 2):
        ids = []
        for t in texts:
            n += 1
            tid = f"T{n:03d}"
            ids.append(tid)
            rows.append({"id": tid, "short_description": t, "description": f"{t} on laptop {n}",
                         "category": cat if categories else "",
                         "subcategory": sub if categories else "",
                         "created": f"2024-01-{day + 1:02d}T00:00:00"})
        links.append({"a": ids[0], "b": ids[1]})
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / "tickets.csv", index=False)
    (folder / "links.json").write_text(json.dumps(links))
    return folder / "tickets.csv", folder / "links.json"


def tiny_tree(tmp: Path, model: Path, categories: bool = True) -> dict:
    tickets, links = write_export(tmp / "export", categories)
    return {
        "data": {"tickets": str(tickets), "links": str(links),
                 "links_store": str(tmp / "links.sqlite"),
                 "columns": {"category": "category", "subcategory": "subcategory",
                             "created": "created"}},
        "train": {"base_model": str(model), "epochs": 1, "batch_size": 4, "max_seq_length": 32},
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
