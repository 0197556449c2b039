"""One retrieval core: evaluate's rankings are what `search --id` and POST /search return,
the champion is written and served, and cross-fitting makes every linked ticket a query once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from test_pipeline_e2e import tiny_config
from ticketsim.config import config_from_dict
from ticketsim.pipeline import run_all
from ticketsim.rundir import RunDir

CLI = [sys.executable, "-m", "ticketsim.cli"]
ENV = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> tuple[Path, dict]:
    """A run (one split, no cross-fitting) through every stage."""
    tmp = tmp_path_factory.mktemp("core")
    tree = tiny_config(tmp, tiny_model_dir)
    tree["evaluate"] = {"crossfit_min_queries": 0, "bootstrap": {"samples": 200}}
    (tmp / "c.yaml").write_text(json.dumps(tree))
    run_all(config_from_dict(tree), RunDir(tmp / "run"))
    return tmp, tree


def _served_systems(run: Path) -> dict[str, str]:
    """mode -> evaluate's system of that mode with the model the served index embeds with."""
    m = RunDir(run).summary("evaluate")
    model = json.loads((run / "evaluate" / "champion.json").read_text())["model"]
    out = {}
    for name, spec in m["modes"].items():
        if spec["mode"] == "keyword" or spec["model"] == model:
            out[spec["mode"]] = name
    return out


def test_evaluate_ranks_exactly_what_the_api_returns(evaluated: tuple[Path, dict]) -> None:
    from fastapi.testclient import TestClient

    from ticketsim.service.app import create_app

    tmp, tree = evaluated
    run = tmp / "run"
    details = json.loads((run / "evaluate" / "details.json").read_text())
    systems = _served_systems(run)
    assert set(systems) == {"dense", "keyword", "hybrid"}
    queries = details["query_ids"]
    assert len(queries) >= 3
    cfg = config_from_dict({**tree, "serve": {"reload_poll_seconds": 0}})
    with TestClient(create_app(RunDir(run), cfg)) as client:
        for mode, system in systems.items():
            for i, qid in enumerate(queries):
                want = details["rankings"][system][i]
                body = client.post("/search", json={"ticket_id": qid, "k": 10, "mode": mode}).json()
                assert [h["id"] for h in body["hits"]] == want, (mode, qid)


@pytest.mark.slow
def test_evaluate_ranks_exactly_what_search_cli_returns_and_prints_the_champion(
        evaluated: tuple[Path, dict]) -> None:
    tmp, _ = evaluated
    run = tmp / "run"
    res = subprocess.run(CLI + ["evaluate", "--config", str(tmp / "c.yaml"), "--run-dir", str(run), "--force"],
                         capture_output=True, text=True, env=ENV, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    champ = json.loads((run / "evaluate" / "champion.json").read_text())
    assert champ["sentence"] in " ".join(res.stdout.split())  # printed in plain words
    details = json.loads((run / "evaluate" / "details.json").read_text())
    for mode, system in _served_systems(run).items():  # one query per mode: each call loads torch
        qid = details["query_ids"][0]
        res = subprocess.run(CLI + ["search", "--run-dir", str(run), "--id", qid, "--json",
                                    "-k", "10", "--mode", mode],
                             capture_output=True, text=True, env=ENV, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        assert [h["id"] for h in json.loads(res.stdout)] == details["rankings"][system][0], mode


@pytest.mark.config_keys("search.mode")
def test_search_and_serve_use_the_champion_unless_told_otherwise(
        evaluated: tuple[Path, dict]) -> None:
    from fastapi.testclient import TestClient

    from ticketsim.evaluation import champion
    from ticketsim.index.search import Searcher
    from ticketsim.service.app import create_app

    tmp, tree = evaluated
    run = RunDir(tmp / "run")
    champ = champion.load(run.path)
    assert champ is not None
    assert champ["mode"] in ("dense", "keyword", "hybrid") and champ["n_queries"] > 0
    # search.mode dense with the fine-tuned model, read the way that scored higher
    assert champ["default"] in ("finetuned", "finetuned+lead")
    m = run.summary("evaluate")
    assert champ["value"] == m["systems"][champ["system"]]["mrr@10"]
    assert champ["system"] == champ["default"] or champ["vs_default"]["low"] > 0 or (
        "not served" in champ["reason"])
    meta = json.loads((run.path / "index" / "meta.json").read_text())
    served = Path(run.resolve(meta["model_path"])).resolve()  # stored relative to the run
    assert meta["lead_weight"] == champ["lead_weight"]  # index.lead_weight auto: as measured
    if champ["model"] == "base":
        assert served != (run.path / "train" / "model").resolve()
    else:
        assert meta["model_path"] == "train/model"
        assert served == (run.path / "train" / "model").resolve()
    cfg = config_from_dict(tree)
    s = Searcher(run, cfg)
    try:
        assert s.mode == champ["mode"]
        assert s.stats()["champion"] == champ["sentence"]
    finally:
        s.close()
    other = next(x for x in ("keyword", "dense") if x != champ["mode"])
    explicit = config_from_dict({**tree, "search": {"mode": other}})  # config wins
    s = Searcher(run, explicit)
    try:
        assert s.mode == other
    finally:
        s.close()
    with TestClient(create_app(run, config_from_dict({**tree, "serve": {
            "reload_poll_seconds": 0}}))) as client:
        st = client.get("/stats").json()
        assert st["champion"] == champ["sentence"] and st["default_mode"] == champ["mode"]
        q = json.loads((run.path / "evaluate" / "details.json").read_text())["query_ids"][0]
        assert client.post("/search", json={"ticket_id": q}).json()["mode"] == champ["mode"]


@pytest.mark.slow
@pytest.mark.config_keys("evaluate.crossfit_min_queries", "evaluate.folds.k",
                         "pairs.split.method")
def test_crossfitting_makes_every_linked_ticket_a_query_once(tmp_path: Path,
                                                             tiny_model_dir: Path) -> None:
    tree = tiny_config(tmp_path, tiny_model_dir)
    tree["train"]["trainer"] = {"num_train_epochs": 1}
    tree["evaluate"] = {"crossfit_min_queries": 1000, "folds": {"k": 3},
                        "systems": ["bm25", "finetuned"], "bootstrap": {"samples": 100}}
    run = RunDir(tmp_path / "run")
    run_all(config_from_dict(tree), run, stages=["ingest", "pairs", "train", "evaluate"])
    m = run.summary("evaluate")
    details = json.loads((run.path / "evaluate" / "details.json").read_text())
    links = pd.read_parquet(run.path / "ingest" / "links.parquet")
    if "label" in links.columns:
        links = links[links["label"].fillna(1).astype(int) == 1]
    ids = set(pd.read_parquet(run.path / "ingest" / "tickets.parquet")["id"].astype(str))
    linked = {t for a, b in zip(links["a"].astype(str), links["b"].astype(str), strict=True)
              if a in ids and b in ids and a != b for t in (a, b)}
    assert m["crossfit"]["k"] == 3 and len(m["crossfit"]["folds"]) == 3
    assert sorted(details["query_ids"]) == sorted(linked)  # each linked ticket exactly once
    assert m["n_queries"] == len(linked) == m["champion"]["n_queries"]
    # the rule's out-of-fold score: each fold's queries scored with what the other folds chose
    oof = m["champion"]["out_of_fold"]
    assert len(oof["chosen"]) == 3 and set(oof["chosen"]) <= set(m["systems"])
    assert sorted(set(details["query_fold"])) == [0, 1, 2]
    fold = np.asarray(details["query_fold"])
    pq = details["per_query"]
    assert oof["value"] == pytest.approx(np.mean(np.concatenate(
        [np.asarray(pq[s]["mrr@10"])[fold == k] for k, s in enumerate(oof["chosen"])])), abs=1e-4)
    # every ticket is held out in one fold: a query there, or skipped once (no known link)
    assert m["skipped_reasons"].get("held-out ticket without a known link", 0) == len(ids - linked)
    assert m["skipped_queries"] + m["n_queries"] == len(ids)
    assert "crossfit_min_queries" in m["crossfit"]["why"] and "trainings" in m["crossfit"]["cost"]
    # the served model trains on all links: no test split in the run's own pairs stage
    split = pd.read_parquet(run.path / "pairs" / "split.parquet")
    assert "test" not in set(split["split"])
    for f in range(3):
        fs = pd.read_parquet(run.path / "crossfit" / f"fold-{f}" / "pairs" / "split.parquet")
        assert (fs["split"] == "test").any()
    off = config_from_dict({**tree, "evaluate": {**tree["evaluate"], "crossfit_min_queries": 0}})
    from ticketsim.evaluation import crossfit

    assert crossfit.plan(off, run) is None
