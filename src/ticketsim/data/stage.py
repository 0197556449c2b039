"""Pipeline adapter for ingest: ``(Config, RunDir) -> StageResult``."""

from __future__ import annotations

from ticketsim.config import Config
from ticketsim.data.ingest import ingest
from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import RunDir, StageResult


def run_ingest(
    cfg: Config, run: RunDir, *, force: bool = False, reporter: Reporter = NULL
) -> StageResult:
    return ingest(cfg.data, run, force=force, reporter=reporter)
