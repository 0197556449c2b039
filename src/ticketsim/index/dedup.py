"""Backlog dedup: group tickets (the open backlog, or any filter) into likely-duplicate clusters.

Which tickets are compared is decided here (:func:`dedup_selection`): the statuses asked for,
every ticket, or by default the open backlog, every status that is not a closed one
(:data:`CLOSED_STATUSES`), since duplicates among open tickets are the ones still worth merging.

Each selected ticket is compared with its ``neighbours`` nearest selected tickets (the
search core's dense retriever, so the index's model: the champion's);
pairs at or above the duplicate threshold (``evaluate/thresholds.json``, or an explicit
one) are joined, and connected groups of at least ``min_size`` tickets become
clusters, strongest first, written as CSV (one row per ticket) and JSON for review.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ticketsim.errors import TicketsimError
from ticketsim.index.base import Filters
from ticketsim.progress import NULL, Reporter
from ticketsim.retrieval import Query
from ticketsim.retrieval.retrievers import DenseRetriever
from ticketsim.rundir import atomic_write_json, atomic_write_text

# Statuses (case-insensitive) of tickets that are finished: everything else is the backlog.
CLOSED_STATUSES = frozenset({
    "resolved", "closed", "done", "completed", "cancelled", "canceled", "rejected", "verified",
    "fixed", "archived",
})


def backlog_statuses(have: Sequence[str]) -> list[str] | None:
    """The open statuses among ``have`` (the index's status values): those not in
    :data:`CLOSED_STATUSES`; None when the tickets carry no status (every ticket is open)."""
    if not have:
        return None
    return [s for s in have if s.strip().lower() not in CLOSED_STATUSES]


def dedup_selection(searcher: Any, *, status: Sequence[str] | None = None, every_status: bool = False,
                    category: Sequence[str] | None = None, created_from: str | None = None,
                    created_to: str | None = None) -> Filters:
    """The tickets dedup groups: the ``status`` values asked for, else every ticket with
    ``every_status``, else the open backlog (:func:`backlog_statuses`); narrowed by category
    and creation date. Raises when the backlog is empty or a value matches no ticket."""
    store = searcher.index.store
    statuses = list(status or [])
    if not statuses and not every_status:
        have = store.values("status")
        backlog = backlog_statuses(have)
        if backlog == []:
            raise TicketsimError(f"every ticket has a closed status ({', '.join(have)}), so the "
                                 "open backlog is empty", hint="pass --all, or --status for the "
                                 "statuses to group")
        statuses = backlog or []
    data: dict[str, Any] = {"category": list(category or []) or None, "status": statuses or None,
                            "created_from": created_from, "created_to": created_to}
    filters = Filters.coerce({k: v for k, v in data.items() if v})
    unmatched = store.unmatched_filters(filters)
    if unmatched:
        raise TicketsimError("; ".join(unmatched), hint="filter values match case-insensitively")
    return filters


def find_clusters(searcher: Any, filters: Filters | dict[str, Any] | None = None, *,
                  threshold: float | None = None, min_size: int | None = None, neighbours: int = 10,
                  reporter: Reporter = NULL) -> dict[str, Any]:
    """Likely-duplicate clusters among the tickets passing ``filters`` (see module doc)."""
    if threshold is None:
        if searcher.thresholds is None:
            raise TicketsimError("no duplicate threshold: evaluate/thresholds.json is missing or "
                                 "belongs to another model", hint="run `ticketsim evaluate` or "
                                 "pass --threshold")
        threshold = float(searcher.thresholds.duplicate)
        if threshold > 1.0:
            raise TicketsimError(
                "no duplicate threshold: on held-out pairs no cosine cut reached "
                "evaluate.duplicate.target_precision, so this model labels nothing duplicate",
                hint="pass --threshold, lower the target precision, or add known links and retrain")
    min_size = int(min_size or searcher.dedup_min_size)
    filters = Filters.coerce(filters)
    index = searcher.index
    with index.lock:
        allowed = index.store.filter_keys(filters)
        if allowed is None:
            allowed = np.asarray([k for k, _ in _all_keys(index)], dtype=np.int64)
    parent = {int(k): int(k) for k in allowed}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    dense = DenseRetriever(index)  # the search core's dense retriever (champion's model)
    best: dict[int, float] = {}
    edges = 0
    for start in reporter.track(range(0, len(allowed), 256), total=-(-len(allowed) // 256),
                                description="dedup"):
        chunk = allowed[start:start + 256]
        vecs = index.store.vectors(chunk, index.dim)
        for key, vec in zip(chunk, vecs, strict=True):
            for other, s in dense.rank(Query("", vec[None, :]), neighbours + 1, allowed=allowed):
                if int(other) == int(key) or s < threshold:
                    continue
                edges += 1
                best[int(key)] = max(best.get(int(key), -1.0), float(s))
                ra, rb = find(int(key)), find(int(other))
                if ra != rb:
                    parent[ra] = rb
    groups: dict[int, list[int]] = {}
    for key in parent:
        groups.setdefault(find(key), []).append(key)
    members = [g for g in groups.values() if len(g) >= min_size]
    records = index.store.records([k for g in members for k in g])
    clusters = []
    for g in members:
        tickets = sorted(({**records[k], "best_score": round(best.get(k, 0.0), 4)} for k in g
                          if k in records), key=lambda r: str(r["id"]))
        clusters.append({"size": len(tickets),
                         "max_score": max(t["best_score"] for t in tickets), "tickets": tickets})
    clusters.sort(key=lambda c: (-c["size"], -c["max_score"]))
    for i, c in enumerate(clusters, start=1):
        c["cluster"] = i
    return {"threshold": threshold, "min_size": min_size, "neighbours": neighbours,
            "selected": int(len(allowed)), "edges": edges, "clusters": clusters}


def _all_keys(index: Any) -> list[tuple[int, None]]:
    rows = index.store.conn.execute("SELECT key FROM tickets WHERE deleted=0 ORDER BY key").fetchall()
    return [(int(r[0]), None) for r in rows]


def write_clusters(result: dict[str, Any], out: str | Path) -> tuple[Path, Path]:
    """``dedup.json`` (everything) and ``dedup.csv`` (cluster, size, ticket columns) in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "dedup.json", result)
    cols: list[str] = ["cluster", "size", "id", "best_score"]
    for c in result["clusters"]:
        for t in c["tickets"]:
            cols += [k for k in t if k not in cols]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    for c in result["clusters"]:
        for t in c["tickets"]:
            w.writerow({"cluster": c["cluster"], "size": c["size"], **t})
    atomic_write_text(out / "dedup.csv", buf.getvalue())
    return out / "dedup.csv", out / "dedup.json"
