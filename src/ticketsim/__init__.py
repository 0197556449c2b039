"""ticketsim: find the tickets a support team has already seen.

The Python entry point is :func:`open`: ``ticketsim.open("runs/my-desk").search("vpn drops")``.
Importing ``ticketsim`` stays instant: everything heavy loads inside :func:`open`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ticketsim.index.search import Searcher

__version__ = "0.1.0"


def open(run_dir: str | Path, **overrides: Any) -> Searcher:  # noqa: A001 - the documented name
    """The searcher of a finished run, with the run's own config (``run_dir/config.yaml``).

    ``overrides`` are ``section.key`` settings as keyword arguments with ``__`` for the dot,
    e.g. ``ticketsim.open("runs/demo", search__k=5)``. Close it with ``.close()``.
    """
    from ticketsim.index.search import Searcher
    from ticketsim.runconfig import load_run_config
    from ticketsim.rundir import RunDir

    run = RunDir(run_dir)
    run.require("index", "ticketsim.open")
    sets = [f"{k.replace('__', '.')}={v}" for k, v in overrides.items()]
    return Searcher(run, load_run_config(run.path, None, sets))
