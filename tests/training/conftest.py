"""Fixtures for the train-stage tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_helpers import make_run

from ticketsim.rundir import RunDir


@pytest.fixture
def pair_run(tmp_path: Path) -> RunDir:
    return make_run(tmp_path / "run", "pair")
