"""Fixtures for the train-stage tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_helpers import make_run

from ticketsim.rundir import RunDir


@pytest.fixture
def pair_run(tmp_path: Path) -> RunDir:
    return make_run(tmp_path / "run", "pair")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Overrides the shared fixture: a tiny model whose tokenizer knows the words (see
    training_helpers.build_word_model for why the shared one cannot train)."""
    from training_helpers import build_word_model

    return build_word_model(tmp_path_factory.mktemp("word-model"))
