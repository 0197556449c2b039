"""Backlog dedup and the search / dedup / index commands end to end on a tiny run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from index_helpers import index_config, make_run, tiny_tickets
from typer.testing import CliRunner

from ticketsim.cli import app
from ticketsim.index.dedup import find_clusters, write_clusters
from ticketsim.index.search import Searcher
from ticketsim.index.stage import run_index
from ticketsim.rundir import RunDir


@pytest.fixture()
def run(tmp_path: Path, tiny_model_dir: Path) -> RunDir:
    r = make_run(tmp_path / "run")
    run_index(index_config(tiny_model_dir), r)
    return r


@pytest.mark.config_keys("search.dedup_min_size")
def test_dedup_groups_identical_open_tickets(run: RunDir, tiny_model_dir: Path, tmp_path: Path) -> None:
    cfg = index_config(tiny_model_dir, search={"dedup_min_size": 2})
    s = Searcher(run, cfg)
    assert s.dedup_min_size == 2
    # controlled vectors: random (cosine ~ +-0.3) except T01 ~ T00 ~ T02 and T11 ~ T10
    recs = tiny_tickets().to_dict("records")
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(len(recs), s.index.dim))
    pos = {r["id"]: i for i, r in enumerate(recs)}
    for a, b in (("T01", "T00"), ("T02", "T00"), ("T11", "T10")):
        vecs[pos[a]] = vecs[pos[b]] + 0.01 * rng.normal(size=s.index.dim)
    for r in recs:
        r["created"] = str(r["created"])
    s.index.upsert(recs, vecs)
    res = find_clusters(s, {"status": "open"}, threshold=0.95)
    assert res["selected"] == 12 and res["min_size"] == 2
    groups = [sorted(t["id"] for t in c["tickets"]) for c in res["clusters"]]
    assert sorted(groups) == [["T00", "T01"], ["T10", "T11"]]
    # every ticket: T02 (closed) joins the VPN cluster; min_size 3 drops the pair
    res_all = find_clusters(s, None, threshold=0.95, min_size=3)
    assert res_all["min_size"] == 3
    assert [sorted(t["id"] for t in c["tickets"]) for c in res_all["clusters"]] == [
        ["T00", "T01", "T02"]]
    csv_path, json_path = write_clusters(res, tmp_path / "out")
    rows = list(csv.DictReader(csv_path.open()))
    assert {r["id"] for r in rows} == {"T00", "T01", "T10", "T11"}
    assert {r["cluster"] for r in rows} == {"1", "2"} and "resolution_notes" in rows[0]
    assert json.loads(json_path.read_text())["threshold"] == 0.95
    s.close()


def test_dedup_needs_a_threshold(run: RunDir, tiny_model_dir: Path) -> None:
    from ticketsim.errors import TicketsimError

    s = Searcher(run, index_config(tiny_model_dir))
    with pytest.raises(TicketsimError, match="threshold"):
        find_clusters(s, None)
    s.close()
    # evaluate found no cut reaching the target precision: nothing is a duplicate, and dedup says so
    from ticketsim.evaluation.duplicates import NEVER
    from ticketsim.thresholds import FILE, Thresholds

    fp = json.loads((run.path / "index" / "meta.json").read_text())["model_fingerprint"]
    (run.path / "evaluate").mkdir(exist_ok=True)
    Thresholds(fp, duplicate=NEVER, related=0.5).save(run.path / "evaluate" / FILE)
    s = Searcher(run, index_config(tiny_model_dir))
    with pytest.raises(TicketsimError, match="no cosine cut reached"):
        find_clusters(s, None)
    assert find_clusters(s, None, threshold=0.5)["threshold"] == 0.5
    s.close()


def test_cli_index_search_dedup(tmp_path: Path, tiny_model_dir: Path) -> None:
    r = make_run(tmp_path / "run", tiny_tickets())
    runner = CliRunner()
    base = ["--run-dir", str(r.path), "--set", f"train.base_model={tiny_model_dir}"]
    res = runner.invoke(app, ["index", *base])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["search", "--id", "T00", "--json", "-k", "3", *base])
    assert res.exit_code == 0, res.output
    hits = json.loads(res.output)
    assert hits[0]["id"] == "T02" and hits[0]["resolution_notes"] == "fixed vpn #2"
    res = runner.invoke(app, ["search", "printer jam", "--mode", "keyword", "--status", "open",
                              "--json", *base])
    hits = json.loads(res.output)
    assert {h["id"] for h in hits} == {"T20", "T21"}
    res = runner.invoke(app, ["search", "printer jam", *base])
    assert res.exit_code == 0 and "closest tickets to 'printer jam'" in res.output
    assert "not measured" not in res.output  # no thresholds: no labels, no words
    # with thresholds, the terminal says what each label shown is worth
    from ticketsim.thresholds import FILE, Thresholds

    fp = json.loads((r.path / "index" / "meta.json").read_text())["model_fingerprint"]
    (r.path / "evaluate").mkdir()
    words = "related: 8 in 10 are related or duplicates"
    Thresholds(fp, duplicate=2.0, related=-1.0,
               labels={"related": {"measured": True, "words": words}}).save(r.path / "evaluate" / FILE)
    res = runner.invoke(app, ["search", "printer jam", *base])
    assert res.exit_code == 0 and words in res.output, res.output
    assert "duplicate:" not in res.output  # only the labels shown are explained
    res = runner.invoke(app, ["dedup", "--all", "--threshold", "0.999", "--out",
                              str(tmp_path / "d"), *base])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "d" / "dedup.csv").is_file() and "clusters" in res.output
