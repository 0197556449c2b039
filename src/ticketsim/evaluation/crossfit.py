"""Cross-fitting: with few held-out links, every linked ticket is a query exactly once.

A desk with a few dozen links gets a dozen held-out queries from one split, and a
verdict that is noise. When the configured split would hold out fewer queries than
``evaluate.crossfit_min_queries``, the run cross-fits instead: link clusters are dealt
into ``evaluate.folds.k`` folds (``pairs.split.method: kfold``), one model per fold is
trained with the same recipe on the other folds and ranks its fold's queries, and the
per-query results of all folds are pooled for the metrics, the intervals and the
champion. The served model is trained on all links (``pairs.split.method: all``), so it
is not one of the evaluated models: the pooled numbers estimate its recipe. Cost: k extra
trainings. Folds live in ``<run>/crossfit/fold-<i>`` (sharing the run's ingest and cache).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ticketsim.config import Config
from ticketsim.data.ingest import IngestOutput
from ticketsim.pairs import positives, splits
from ticketsim.pairs.stage import PairsOutput
from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import RunDir, atomic_write_json

FOLDER = "crossfit"


@dataclasses.dataclass
class Plan:
    """Why and how a run cross-fits."""

    k: int
    held_out_queries: int
    min_queries: int
    linked_tickets: int

    @property
    def why(self) -> str:
        return (f"one split would hold out {self.held_out_queries} queries, fewer than "
                f"evaluate.crossfit_min_queries ({self.min_queries}); {self.k} folds make all "
                f"{self.linked_tickets} linked tickets queries")




def plan(cfg: Config, run: RunDir) -> Plan | None:
    """A cross-fitting plan when the configured split holds out too few queries, else None."""
    ev, sp = cfg.evaluate, cfg.pairs.split
    if ev.crossfit_min_queries <= 0 or sp.method in ("kfold", "all"):
        return None
    if run.read_stamp("ingest") is None:
        return None
    ingest = IngestOutput.read(run)
    tickets = ingest.tickets()
    tickets["id"] = tickets["id"].astype(str)
    pos = positives.positive_links(ingest.links(), cfg.pairs.positives)
    if pos.empty:
        return None
    split = splits.split_tickets(tickets, pos, sp)
    test = set(split.loc[split["split"] == "test", "id"].astype(str))
    ids = set(tickets["id"])
    queries: set[str] = set()
    linked: set[str] = set()
    for a, b in zip(pos["a"].astype(str), pos["b"].astype(str), strict=True):
        if a in ids and b in ids and a != b:
            linked |= {a, b}
            queries |= {a, b} & test
    if len(queries) >= ev.crossfit_min_queries:
        return None
    labels = splits.link_clusters(sorted(ids), pos)
    _, counts = np.unique(labels, return_counts=True)
    k = min(ev.folds.k, int((counts > 1).sum()))
    if k < 2:
        return None
    return Plan(k, len(queries), ev.crossfit_min_queries, len(linked))


def save_plan(run: RunDir, p: Plan) -> None:
    """``<run>/crossfit/plan.json``: evaluate reads why and how many folds from it."""
    (run.path / FOLDER).mkdir(parents=True, exist_ok=True)
    atomic_write_json(run.path / FOLDER / "plan.json", dataclasses.asdict(p))


def planned(run: RunDir) -> Plan | None:
    """The plan of a run whose pairs stage trained on all links (``ticketsim run`` decided)."""
    if run.read_stamp("pairs") is None or not PairsOutput.read(run).trained_on_all_links():
        return None
    try:
        return Plan(**json.loads((run.path / FOLDER / "plan.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def all_links(cfg: Config) -> Config:
    """The served model's config: no test split, every link trains."""
    return cfg.model_copy(update={"pairs": cfg.pairs.model_copy(update={
        "split": cfg.pairs.split.model_copy(update={"method": "all"})})})


def fold_config(cfg: Config, fold: int, k: int) -> Config:
    """Fold ``fold`` of ``k`` as the test split (same recipe otherwise)."""
    return cfg.model_copy(update={"pairs": cfg.pairs.model_copy(update={
        "split": cfg.pairs.split.model_copy(update={"method": "kfold", "folds": k,
                                                     "fold": fold})})})


def fold_run(run: RunDir, fold: int) -> RunDir:
    """``<run>/crossfit/fold-<i>``, sharing the run's ingest output and embedding cache."""
    sub = RunDir(run.path / FOLDER / f"fold-{fold}")
    sub.path.mkdir(parents=True, exist_ok=True)
    (run.path / "cache").mkdir(parents=True, exist_ok=True)
    for name in ("ingest", "cache"):
        link = sub.path / name
        if not link.exists() and not link.is_symlink():
            os.symlink(os.path.relpath(run.path / name, sub.path), link)
    return sub


def run_folds(cfg: Config, run: RunDir, p: Plan, *, run_stage: Callable[..., Any],
              collect: Callable[..., Any], force: bool = False,
              reporter: Reporter = NULL) -> tuple[list[Any], dict[str, Any]]:
    """Train and rank each fold (stages skip when unchanged); the collections and their cost.

    ``run_stage`` is the pipeline's, ``collect`` evaluate's (passed in: no import cycle)."""
    parts, folds = [], []
    t_all = time.perf_counter()
    for f in range(p.k):
        reporter.log(f"cross-fitting: fold {f + 1} of {p.k}")
        fcfg, sub = fold_config(cfg, f, p.k), fold_run(run, f)
        t0 = time.perf_counter()
        run_stage("pairs", fcfg, sub, force=force, reporter=reporter)
        trained = run_stage("train", fcfg, sub, force=force, reporter=reporter)
        train_s = time.perf_counter() - t0
        part = collect(fcfg, sub, reporter)
        parts.append(part)
        folds.append({"fold": f, "queries": len(part.data.query_idx),
                      "train_skipped": trained.skipped, "train_s": round(train_s, 1),
                      "total_s": round(time.perf_counter() - t0, 1)})
    wall = time.perf_counter() - t_all
    info = {"k": p.k, "why": p.why, "held_out_queries_one_split": p.held_out_queries,
            "min_queries": p.min_queries, "linked_tickets": p.linked_tickets,
            "queries": sum(f["queries"] for f in folds), "folds": folds,
            "wall_s": round(wall, 1),
            "cost": f"{p.k} extra trainings (fold models) besides the served model trained on "
                    f"all links; {wall:.0f} s for the folds",
            "served_model": "trained on all links (pairs.split.method: all)"}
    return parts, info
