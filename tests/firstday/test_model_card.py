"""The model card (issue 17, point 9): base model, training config, held-out numbers from
evaluate, and no ticket text unless train.model_card_examples allows it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from firstday_helpers import cli


def _ticket_texts(run: Path) -> list[str]:
    t = pd.read_parquet(run / "ingest" / "tickets.parquet")
    return [str(x) for x in t["short_description"]]


def test_the_card_names_the_base_model_config_and_held_out_numbers(cold_run: dict,
                                                                    tiny_model_dir: Path) -> None:
    run = cold_run["run"]
    card = (run / "train" / "model" / "README.md").read_text()
    assert f"fine-tuned from **{tiny_model_dir.name}**" in card and "Unknown" not in card
    assert "max_seq_length: 32" in card and "model_card_examples: false" in card
    assert "## Held-out evaluation" in card and "Not evaluated yet" not in card
    assert "routing (category, kNN of held-out tickets), finetuned: accuracy" in card
    assert "link retrieval skipped" in card
    leaked = [t for t in _ticket_texts(run) if t in card]
    assert not leaked, leaked[:3]
    assert "widget:" not in card


@pytest.mark.config_keys("train.model_card_examples")
def test_examples_only_when_the_config_allows_them(cold_run: dict, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(cold_run["run"], run)
    res = cli("train", "--run-dir", str(run), "--force", "--set",
              "train.model_card_examples=true")
    assert res.returncode == 0, res.stderr[-2000:]
    card = (run / "train" / "model" / "README.md").read_text()
    assert "model_card_examples: true" in card and "Not evaluated yet" in card
    assert any(t in card for t in _ticket_texts(run))  # the stock card's samples are back
