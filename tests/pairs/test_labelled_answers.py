"""Every "not related" answer reaches a labelled-pairs loss, even without a positive for its anchor."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pairs_helpers import ingested

from ticketsim.pairs import stage


@pytest.fixture()
def fmt(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def set_format(name: str, n: int = 1) -> None:
        monkeypatch.setattr(stage, "loss_format", lambda cfg: (name, n))
    return set_format


UNANCHORED = [(f"T{i:03d}", f"T{i + 5:03d}") for i in range(5, 60, 10)]
"""Pairs of each round's 5th ticket, which has no positive link (only a label-0 one)."""


def _add_unanchored_negatives(tmp: Path) -> None:
    links_path = tmp / "export" / "links.json"
    links = json.loads(links_path.read_text())
    links += [{"a": a, "b": b, "label": 0} for a, b in UNANCHORED]
    links_path.write_text(json.dumps(links))


@pytest.mark.parametrize("name", ["labelled", "scored"])
def test_label0_answer_without_positive_anchor_becomes_a_row(tmp_path: Path, fmt, name: str) -> None:  # type: ignore[no-untyped-def]
    fmt(name, 0)
    from pairs_helpers import make_config

    from ticketsim.data.ingest import ingest, load_links
    from ticketsim.rundir import RunDir

    cfg = make_config(tmp_path, {"positives": {"category": False},
                                 "negatives": {"per_anchor": 1, "hardness_sample": 0}})
    _add_unanchored_negatives(tmp_path)
    run = RunDir(tmp_path / "run")
    ingest(cfg.data, run)
    result = stage.run_pairs(cfg, run)
    side = pd.read_parquet(run.path / "pairs" / "train_ids.parquet")
    train = pd.read_parquet(run.path / "pairs" / "train.parquet")
    split = pd.read_parquet(run.path / "pairs" / "split.parquet")
    in_train = set(split.id[split.split == "train"])
    expected = [p for p in UNANCHORED if set(p) <= in_train]
    assert expected, "the split should keep some of these pairs in training"
    col = "label" if name == "labelled" else "score"
    for a, b in expected:
        rows = side.index[(side.anchor_id == a) & (side.positive_id == b)].tolist()
        assert len(rows) == 1
        assert train.loc[rows[0], col] == 0
        assert side.loc[rows[0], "source"] == "labelled-answer"
    # every label-0 link inside training is a 0 row exactly once (as some anchor's negative
    # or as a row of its own), never twice
    links = load_links(run)
    label0 = {frozenset((a, b)) for a, b, lab in zip(links.a, links.b, links.label, strict=True)
              if lab == 0 and {a, b} <= in_train}
    zero = side[train[col].to_numpy() == 0]
    zero_pairs = [frozenset(p) for p in zip(zero.anchor_id, zero.positive_id, strict=True)]
    assert label0 <= set(zero_pairs)
    assert all(zero_pairs.count(p) == 1 for p in label0)
    assert 0 < result.summary["train"]["label0_rows"] <= len(label0)


def test_triplets_do_not_get_unanchored_rows(tmp_path: Path, fmt) -> None:  # type: ignore[no-untyped-def]
    fmt("triplet", 1)
    cfg, run = ingested(tmp_path, {"negatives": {"hardness_sample": 0}})
    result = stage.run_pairs(cfg, run)
    assert result.summary["train"]["label0_rows"] == 0
