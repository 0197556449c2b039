"""A run's own config.yaml: saved with run-relative paths, read back before the defaults."""

from __future__ import annotations

from pathlib import Path

import yaml

from ticketsim.config import config_from_dict
from ticketsim.runconfig import config_path, load_run_config, save_run_config


def test_save_and_load_run_config(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    assert config_path(run) is None
    assert load_run_config(run).train.base_model == load_run_config(None).train.base_model
    cfg = config_from_dict({"data": {"links_store": str(run / "links.sqlite")},
                            "search": {"k": 7}})
    path = save_run_config(cfg, run)
    assert config_path(run) == path == run / "config.yaml"
    assert yaml.safe_load(path.read_text())["data"]["links_store"] == "links.sqlite"  # relative
    moved = tmp_path / "moved"
    run.rename(moved)
    back = load_run_config(moved)
    assert back.search.k == 7 and Path(back.data.links_store) == (moved / "links.sqlite").resolve()
    assert load_run_config(moved, overrides=["search.k=3"]).search.k == 3
    other = tmp_path / "other.yaml"
    other.write_text("search:\n  k: 5\n")
    assert load_run_config(moved, other).search.k == 5  # -c wins over the saved config
