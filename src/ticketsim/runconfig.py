"""A run directory's own config (``run_dir/config.yaml``): the exact settings its stages used.

The CLI saves it once a stage has succeeded and reads it back when no ``-c`` is given;
:func:`ticketsim.open` reads it too. Paths inside the run and the links store are stored
relative to the run directory, so a copied or moved run uses its own model, index and store.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ticketsim.config import Config, load_config, relative_paths
from ticketsim.rundir import atomic_write_text

FILE = "config.yaml"


def config_path(run_dir: str | Path) -> Path | None:
    """``run_dir/config.yaml`` when the run has saved one, else None."""
    path = Path(run_dir) / FILE
    return path if path.is_file() else None


def load_run_config(run_dir: str | Path | None, config: str | Path | None = None,
                    overrides: list[str] | None = None) -> Config:
    """``config`` when given, else the run directory's saved config, else the defaults; then
    the ``section.key=value`` ``overrides``."""
    if config is None and run_dir is not None:
        config = config_path(run_dir)
    return load_config(config, overrides)


def save_run_config(cfg: Config, run_dir: str | Path) -> Path:
    """Record the config a run used (paths made relative as the module doc says)."""
    path = Path(run_dir) / FILE
    tree = relative_paths(cfg, Path(run_dir).resolve())
    atomic_write_text(path, yaml.safe_dump(tree, sort_keys=False))
    return path
