"""Tiny ticket exports for the pairs tests: a few categories, linked clusters, distractors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ticketsim.config import Config, config_from_dict
from ticketsim.data.ingest import ingest
from ticketsim.rundir import RunDir

TOPICS = [
    ("Network", "VPN", ["vpn drops every few minutes", "vpn disconnects from home office",
                        "cannot keep vpn connection stable", "vpn keeps dropping at home",
                        "vpn password expired cannot connect"]),
    ("Email", "Outlook", ["outlook asks for password again", "outlook password prompt loop",
                          "outlook keeps asking password", "password prompt in outlook desktop",
                          "outlook crash when opening pdf"]),
    ("Hardware", "Printer", ["printer jam on floor two", "printer paper jam again",
                             "paper jam printer floor three", "printer keeps jamming paper",
                             "printer toner empty floor two"]),
    ("Access", "Account", ["account locked after login", "locked account cannot login",
                           "login fails account locked", "my account is locked again",
                           "account password reset needed"]),
]


def write_export(folder: Path, copies: int = 3, negative_links: bool = True,
                 categories: bool = True) -> tuple[Path, Path]:
    """tickets.csv and links.json: ``copies`` rounds of every topic, links inside each round."""
    rows, links = [], []
    n = 0
    for day, (cat, sub, texts) in enumerate(TOPICS * copies):
        ids = []
        for j, t in enumerate(texts):
            n += 1
            tid = f"T{n:03d}"
            ids.append(tid)
            rows.append({"id": tid, "short_description": t,
                         "description": f"{t} since monday, round {day} user {j}",
                         "category": cat if categories else "", "subcategory": sub if categories else "",
                         "created": f"2024-{1 + day // 28:02d}-{1 + day % 28:02d}T0{j}:00:00"})
        links += [{"a": ids[0], "b": ids[1]}, {"a": ids[1], "b": ids[2]}, {"a": ids[2], "b": ids[3]}]
        if negative_links:
            links.append({"a": ids[3], "b": ids[4], "label": 0})
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / "tickets.csv", index=False)
    (folder / "links.json").write_text(json.dumps(links))
    return folder / "tickets.csv", folder / "links.json"


def make_config(tmp: Path, pairs: dict | None = None, **export_kw: object) -> Config:
    tickets, links = write_export(tmp / "export", **export_kw)  # type: ignore[arg-type]
    return config_from_dict({
        "data": {"tickets": str(tickets), "links": str(links),
                 "links_store": str(tmp / "links.sqlite"),
                 "columns": {"category": "category", "subcategory": "subcategory",
                             "created": "created"}},
        "pairs": pairs or {},
    })


def ingested(tmp: Path, pairs: dict | None = None, **export_kw: object) -> tuple[Config, RunDir]:
    cfg = make_config(tmp, pairs, **export_kw)
    run = RunDir(tmp / "run")
    ingest(cfg.data, run)
    return cfg, run
