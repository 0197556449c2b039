"""Helpers: a tiny run directory (ingest + pairs, optionally train), per docs/artifacts.md."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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
    ("erp", "sap", "sap payroll error", "payroll in sap shows error after update"),
    ("hr", "badge", "badge access to building", "badge access not working at the door"),
    ("network", "wifi", "wifi slow in meeting room", "wifi is slow in teams meeting"),
    ("storage", "share", "share drive folder access", "cannot open shared drive folder"),
]


def tiny_tickets(extra_text: dict[str, str] | None = None) -> pd.DataFrame:
    rows = []
    for t, (cat, sub, short, long) in enumerate(TOPICS):
        for j in range(4):
            tid = f"T{t:02d}{j}"
            text = f"{short} {long}" if j % 2 == 0 else f"{long} please help {short.split()[0]}"
            rows.append({"id": tid, "short_description": short, "description": long,
                         "category": cat, "subcategory": sub,
                         "created": pd.Timestamp("2024-01-01") + pd.Timedelta(days=10 * j + t),
                         "text": (extra_text or {}).get(tid, text), "team": f"team-{cat}"})
    return pd.DataFrame(rows)


def write_run(root: Path, tickets: pd.DataFrame, test_links: pd.DataFrame,
              model_dir: Path | None = None, links: pd.DataFrame | None = None,
              log: object | None = None) -> RunDir:
    """Stamped ingest/pairs (and train) folders with the given tables."""
    run = RunDir(root)
    with run.stage("ingest", "in") as tmp:
        tickets.to_parquet(tmp / "tickets.parquet")
        lk = links if links is not None else test_links.assign(
            label=1, score=1.0, source="test", who="", at=pd.Timestamp("2024-01-01"))
        lk.to_parquet(tmp / "links.parquet")
    test_ids = set(test_links["a"])
    split = pd.DataFrame({"id": tickets["id"],
                          "split": ["test" if i in test_ids else "train" for i in tickets["id"]]})
    with run.stage("pairs", "pa") as tmp:
        split.to_parquet(tmp / "split.parquet")
        test_links.to_parquet(tmp / "test_links.parquet")
    if model_dir is not None:
        with run.stage("train", "tr") as tmp:
            shutil.copytree(model_dir, tmp / "model")
            if log is not None:
                (tmp / "log.json").write_text(json.dumps(log))
    return run


def tiny_test_links() -> pd.DataFrame:
    """Ticket j=0 of each topic is held out; its links go to j=1 (duplicate) and j=2 (related)."""
    rows = []
    for t in range(len(TOPICS)):
        rows.append({"a": f"T{t:02d}0", "b": f"T{t:02d}1", "kind": "duplicate", "label": 1})
        if t % 2 == 0:
            rows.append({"a": f"T{t:02d}0", "b": f"T{t:02d}2", "kind": "related", "label": 1})
    return pd.DataFrame(rows)


def tiny_config(model: Path, search: dict[str, object] | None = None, **evaluate: object) -> Config:
    ev = {"bootstrap": {"samples": 200}, "k_values": [1, 5, 10]}
    ev.update(evaluate)
    return config_from_dict({"train": {"base_model": str(model)}, "evaluate": ev,
                             "search": search or {}})
