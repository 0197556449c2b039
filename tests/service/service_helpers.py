"""Helpers: an indexed tiny run (built once per session, copied per test) and a client for it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "index"))

from index_helpers import index_config, make_run, tiny_tickets  # noqa: E402

from ticketsim.config import Config  # noqa: E402
from ticketsim.rundir import RunDir  # noqa: E402


def build_indexed(root: Path, model: Path) -> Path:
    """A run directory with the tiny tickets indexed by ``model``."""
    from ticketsim.index.stage import run_index

    run = make_run(root, tiny_tickets())
    run_index(index_config(model), run)
    return run.path


def copy_run(src: Path, dst: Path) -> RunDir:
    shutil.copytree(src, dst)
    return RunDir(dst)


def service_config(model: Path, links: Path, **serve: Any) -> Config:
    cfg = index_config(model)
    cfg.data.links_store = links
    for key, value in serve.items():
        setattr(cfg.serve, key, value)
    return cfg
