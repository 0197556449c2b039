"""The pairs stage end to end on a tiny export: artifacts, formats, early failures, reruns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pairs_helpers import ingested

from ticketsim.errors import TicketsimError
from ticketsim.formats import columns_for
from ticketsim.pairs import stage


@pytest.fixture()
def fmt(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Pretend the configured loss wants a given format (training is built elsewhere)."""
    def set_format(name: str, n: int = 1) -> None:
        monkeypatch.setattr(stage, "loss_format", lambda cfg: (name, n))
    return set_format


def _read(run_path: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(run_path / "pairs" / name)


def test_artifacts_follow_the_contract_and_rerun_skips(tmp_path: Path) -> None:
    cfg, run = ingested(tmp_path, {"negatives": {"hardness_sample": 0}})
    result = stage.run_pairs(cfg, run)
    assert not result.skipped
    for name in ("split.parquet", "train.parquet", "validation.parquet", "test_links.parquet",
                 "validation_links.parquet", "summary.json"):
        assert (run.path / "pairs" / name).is_file(), name
    split = _read(run.path, "split.parquet")
    assert set(split.columns) == {"id", "split"} and set(split.split) == {"train", "validation", "test"}
    train = _read(run.path, "train.parquet")
    assert list(train.columns) == columns_for("pair")
    test_ids = set(split.id[split.split == "test"])
    tl = _read(run.path, "test_links.parquet")
    assert len(tl) and tl.a.isin(test_ids).all()  # the held-out end is `a`
    vl = _read(run.path, "validation_links.parquet")
    assert vl.a.isin(set(split.id[split.split == "validation"])).all()
    report = run.summary("pairs")
    assert report["train"]["per_source"]["link"] > 0 and report["train"]["per_source"]["category"] > 0
    again = stage.run_pairs(cfg, run)
    assert again.skipped and again.summary["train"]["rows"] == result.summary["train"]["rows"]


def test_validation_pairs_come_from_validation_tickets_only(tmp_path: Path) -> None:
    cfg, run = ingested(tmp_path, {"split": {"validation_fraction": 0.25},
                                   "negatives": {"hardness_sample": 0}})
    stage.run_pairs(cfg, run)
    split = _read(run.path, "split.parquet")
    side = _read(run.path, "validation_ids.parquet")
    val = set(split.id[split.split == "validation"])
    assert len(side) and side.anchor_id.isin(val).all() and side.positive_id.isin(val).all()


@pytest.mark.parametrize(("name", "n"), [("triplet", 1), ("ntuple", 2), ("labelled", 0), ("scored", 0)])
def test_each_format_has_its_columns(tmp_path: Path, fmt, name: str, n: int) -> None:  # type: ignore[no-untyped-def]
    fmt(name, n)
    cfg, run = ingested(tmp_path, {"negatives": {"per_anchor": 2, "hardness_sample": 0}})
    stage.run_pairs(cfg, run)
    train = _read(run.path, "train.parquet")
    assert list(train.columns) == columns_for(name, max(n, 1))
    assert len(train) > 0
    if name == "labelled":
        assert set(train.label) == {0, 1}
    if name == "scored":
        assert train.score.min() == 0.0 and train.score.max() == 1.0
    if name == "ntuple":
        assert train.negative_1.ne(train.negative_2).all()


def test_fails_early_when_the_loss_needs_negatives_that_are_disabled(tmp_path: Path, fmt) -> None:  # type: ignore[no-untyped-def]
    fmt("triplet", 1)
    cfg, run = ingested(tmp_path, {"negatives": {"strategy": "none", "labelled": False}})
    with pytest.raises(TicketsimError, match=r"\(anchor, positive, negative\) triplets"):
        stage.run_pairs(cfg, run)
    fmt("labelled", 0)
    cfg, run = ingested(tmp_path / "b", {"negatives": {"strategy": "none"}}, negative_links=False)
    with pytest.raises(TicketsimError, match="label-0"):
        stage.run_pairs(cfg, run)
    assert not (run.path / "pairs").exists()


def test_labelled_negative_links_alone_can_feed_a_labelled_loss(tmp_path: Path, fmt) -> None:  # type: ignore[no-untyped-def]
    fmt("labelled", 0)
    cfg, run = ingested(tmp_path, {"negatives": {"strategy": "none", "hardness_sample": 0}})
    result = stage.run_pairs(cfg, run)
    assert result.summary["train"]["negatives"]["per_source"] == {
        "labelled": result.summary["train"]["negatives"]["total"]}


def test_no_training_pairs_is_a_clear_error(tmp_path: Path) -> None:
    cfg, run = ingested(tmp_path, {"positives": {"links": False, "category": False,
                                                 "views": "never"}})
    with pytest.raises(TicketsimError, match="no training examples"):
        stage.run_pairs(cfg, run)


def test_cli_renders_the_report(tmp_path: Path, fmt) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from ticketsim.cli import app

    fmt("triplet", 1)
    cfg, run = ingested(tmp_path, {"negatives": {"hardness_sample": 0}})
    cfg_path = tmp_path / "cfg.yaml"
    import yaml
    cfg_path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    out = CliRunner().invoke(app, ["pairs", "-c", str(cfg_path), "--run-dir", str(run.path)])
    assert out.exit_code == 0, out.output
    assert "positives per source" in out.output and "examples" in out.output
    assert "negatives (bm25)" in out.output
