"""Fixtures of the evaluation tests (helpers live in evaluation_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from evaluation_helpers import tiny_test_links, tiny_tickets, write_run

from ticketsim.rundir import RunDir


@pytest.fixture()
def tiny_run(tmp_path: Path, tiny_model_dir: Path) -> RunDir:
    return write_run(tmp_path / "run", tiny_tickets(), tiny_test_links(), tiny_model_dir,
                     log={"log_history": [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}]})
