"""What every command shares: the typer apps, the consoles, the common options, the config.

The command modules (stages, search, label, ...) register on these apps; ``ticketsim.cli``
imports them all, so the app is complete once the package is imported.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ticketsim.config import Config
from ticketsim.runconfig import load_run_config, save_run_config

app = typer.Typer(
    name="ticketsim",
    help="Fine-tune, evaluate and serve similar- and duplicate-ticket search on your ticket history.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Write, show and check configuration files.", no_args_is_help=True)
app.add_typer(config_app, name="config")
label_app = typer.Typer(help="Active learning: suggest pairs to label, import answers, label in the "
                        "terminal.", no_args_is_help=True)
app.add_typer(label_app, name="label")

# Piped output (make demo, CI logs) gets a wide console instead of rich's 80-column default.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=_WIDTH)
STATE: dict[str, Any] = {"verbose": False}

DEFAULT_RUN_DIR = os.environ.get("TICKETSIM_RUN_DIR", "runs/default")

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config (default: the run dir's config).")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a key: section.key=value (repeatable)."),
]
RunDirOpt = Annotated[Path, typer.Option("--run-dir", "-r", help="Run directory of artifacts.")]
ForceOpt = Annotated[bool, typer.Option("--force", "-f", help="Redo even if inputs are unchanged.")]


def load(config: Path | None, overrides: list[str] | None, run_dir: Path | None) -> Config:
    """Config from -c, else the run directory's saved config, else defaults; then --set."""
    return load_run_config(run_dir, config, overrides)


def save_config(cfg: Config, run_dir: Path) -> None:
    """Record the exact config a run used, once a stage has succeeded (a failed stage never
    rewrites it); :mod:`ticketsim.runconfig` says how."""
    save_run_config(cfg, run_dir)

