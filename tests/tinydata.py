"""A tiny ticket export (5 topics x 2 days x 4 paraphrases) shared by the e2e and active tests."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

TOPICS = [
    ("Network", "VPN", ["vpn drops every few minutes", "vpn disconnects from home",
                        "cannot keep vpn connection", "vpn keeps dropping at home"]),
    ("Email", "Outlook", ["outlook asks for password again", "outlook password prompt loop",
                          "outlook keeps asking password", "password prompt in outlook"]),
    ("Hardware", "Printer", ["printer jam on floor two", "printer paper jam again",
                             "paper jam printer floor", "printer keeps jamming"]),
    ("Access", "Account", ["account locked after login", "locked account cannot login",
                           "login fails account locked", "my account is locked"]),
    ("Software", "Install", ["install excel license error", "excel license install fails",
                             "cannot install excel license", "license error installing excel"]),
]


def write_tiny_export(folder: Path, topics: list = TOPICS, *, categories: bool = True,
                      links_per_group: int = 1, notes: bool = False,
                      hourly: bool = False) -> tuple[Path, Path]:
    """tickets.csv + links.json: ids T001.., each group's paraphrases linked pairwise (0-1, 2-3).

    ``hourly`` spreads a group's tickets over hours of its day; ``notes`` adds a ``notes``
    column to carry through.
    """
    rows, links = [], []
    n = 0
    for day, (cat, sub, texts) in enumerate(topics * 2):
        ids = []
        for j, t in enumerate(texts):
            n += 1
            tid = f"T{n:03d}"
            ids.append(tid)
            row = {"id": tid, "short_description": t, "description": f"{t} on laptop {n}",
                   "category": cat if categories else "", "subcategory": sub if categories else "",
                   "created": f"2024-01-{day + 1:02d}T{f'0{j}' if hourly else '00'}:00:00"}
            if notes:
                row["notes"] = f"fix {n}"
            rows.append(row)
        links += [{"a": ids[2 * i], "b": ids[2 * i + 1]} for i in range(links_per_group)]
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / "tickets.csv", index=False)
    (folder / "links.json").write_text(json.dumps(links))
    return folder / "tickets.csv", folder / "links.json"
