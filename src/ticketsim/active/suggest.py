"""One round of active learning: candidates from the run's index, a strategy's pick, who answers.

Shared by ``ticketsim label suggest`` (export for a spreadsheet), ``ticketsim label
session`` (terminal) and the simulation, so all three ask the same questions.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ticketsim.active.candidates import CandidatePool, pool_for_run
from ticketsim.active.exchange import export_rows, write_export
from ticketsim.active.strategies import build_strategy
from ticketsim.config import Config, LabelConfig
from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import RunDir


@dataclasses.dataclass
class Suggestion:
    """The chosen pairs (with both tickets' fields), the strategy and the pool they came from."""

    strategy: str
    selected: pd.DataFrame
    rows: list[dict]
    pool: CandidatePool


def who_answers(cfg: LabelConfig) -> str:
    """``label.who``, else the login name (stored with every answer)."""
    if cfg.who:
        return cfg.who
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def suggest(cfg: Config, run: RunDir, *, n: int | None = None, strategy: str | None = None,
            exclude: Iterable[tuple[str, str]] = (), reporter: Reporter = NULL) -> Suggestion:
    """Pick ``n`` (default ``label.n``) pairs by ``strategy`` (default ``label.strategy``)."""
    strat = build_strategy(cfg.label, strategy)
    pool = pool_for_run(cfg, run, exclude=exclude, reporter=reporter)
    selected = strat.select(pool, n or cfg.label.n)
    reporter.log(f"label: {len(selected)} pairs chosen by {strat.name} from {len(pool)} candidates")
    return Suggestion(strat.name, selected, export_rows(selected, pool.tickets, strat.name), pool)


def suggest_to_file(cfg: Config, run: RunDir, out: str | Path, *, n: int | None = None,
                    strategy: str | None = None, fmt: str = "auto",
                    reporter: Reporter = NULL) -> tuple[Path, Suggestion]:
    """``label suggest``: choose pairs and write them as CSV / JSON lines for a spreadsheet."""
    s = suggest(cfg, run, n=n, strategy=strategy, reporter=reporter)
    return write_export(s.rows, out, fmt), s
