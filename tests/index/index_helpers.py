"""Helpers: a stamped ingest folder with tiny tickets, and the config to index it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ticketsim.config import Config, config_from_dict
from ticketsim.rundir import RunDir

TOPICS = [
    ("network", "vpn", "vpn cannot connect from home", "vpn keeps dropping, cannot connect"),
    ("email", "outlook", "outlook password expired", "cannot login to outlook email password"),
    ("hardware", "printer", "printer jam toner", "print jam again on printer, toner low"),
    ("hardware", "laptop", "laptop battery slow", "laptop slow and battery not charging"),
    ("access", "account", "account locked after mfa", "user account locked, mfa token expired"),
    ("software", "install", "install excel license", "cannot install excel, license error"),
]


def tiny_tickets(per_topic: int = 4) -> pd.DataFrame:
    rows = []
    for t, (cat, sub, short, long) in enumerate(TOPICS):
        for j in range(per_topic):
            rows.append({
                "id": f"T{t}{j}", "short_description": short, "description": long,
                "category": cat, "subcategory": sub,
                "created": pd.Timestamp("2024-01-01") + pd.Timedelta(days=10 * j + t),
                "text": f"{short}. {long}" if j % 2 == 0 else f"{long} please help {short}",
                "status": "open" if j < 2 else "closed",
                "resolution_notes": f"fixed {sub} #{j}"})
    return pd.DataFrame(rows)


def make_run(root: Path, tickets: pd.DataFrame | None = None) -> RunDir:
    run = RunDir(root)
    with run.stage("ingest", "in") as tmp:
        (tickets if tickets is not None else tiny_tickets()).to_parquet(tmp / "tickets.parquet")
    return run


def index_config(model: Path, **index: Any) -> Config:
    search = index.pop("search", {})
    return config_from_dict({"train": {"base_model": str(model)}, "index": index, "search": search})
