"""A cold-start run (tiny export, category only, no links) built once through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from firstday_helpers import cli, cold_config


@pytest.fixture(scope="session")
def cold_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict:
    """`ticketsim run` on a category-only export without links: config, run dir, output."""
    folder = tmp_path_factory.mktemp("coldstart")
    cfg = cold_config(folder, tiny_model_dir)
    res = cli("run", str(cfg), "--run-dir", str(folder / "run"))
    return {"folder": folder, "config": cfg, "run": folder / "run", "res": res}
