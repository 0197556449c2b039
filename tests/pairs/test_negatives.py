"""Negative mining: exclusion of category and cluster, rank window, margin, max score, sampling,
labelled negatives, and the BM25 / model / random strategies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pairs_helpers import ingested

from ticketsim.config import NegativesConfig
from ticketsim.pairs import stage
from ticketsim.pairs.negatives import Corpus, mine

N = 12
TICKETS = pd.DataFrame({
    "id": [f"T{i:02d}" for i in range(N)],
    "text": [f"ticket text number {i}" for i in range(N)],
    "category": ["A"] * 4 + ["B"] * 4 + ["C"] * 4,
})
# anchor T00 (category A) with positive T01; T08 and T09 are in T00's linked cluster
CLUSTERS = {"T00": 0, "T01": 0, "T08": 0, "T09": 0}
LINKED = {"T00": {"T01"}, "T01": {"T00"}}
PAIRS = pd.DataFrame({"anchor_id": ["T00"], "positive_id": ["T01"],
                      "anchor": ["ticket text number 0"], "positive": ["ticket text number 1"],
                      "source": ["link"], "category": ["A"], "score": [1.0]})
CATS = dict(zip(TICKETS.id, TICKETS.category, strict=True))


class FixedScorer:
    """Scores descending by ticket number from the end: T11 highest, T00 lowest; T01 = 0.5."""

    name = "fixed"

    def __init__(self) -> None:
        self.s = np.linspace(0.0, 1.0, N).astype(np.float32)
        self.s[1] = 0.5

    def scores(self, queries: list[str]) -> np.ndarray:
        return np.tile(self.s, (len(queries), 1))


def _mine(k: int = 3, seed: int = 0, **kw: object) -> list[str]:
    cfg = NegativesConfig(**{"margin": None, **kw})  # type: ignore[arg-type]
    corpus = Corpus(TICKETS, CLUSTERS, LINKED)
    scorer = None if cfg.strategy == "random" else FixedScorer()
    ids, _src = mine(PAIRS, corpus, scorer, cfg, k, seed, categories=CATS)
    return ids[0]


@pytest.mark.config_keys("pairs.negatives.exclude_same_category",
                         "pairs.negatives.exclude_same_cluster")
def test_negatives_avoid_the_anchor_category_and_cluster() -> None:
    assert _mine(k=3) == ["T11", "T10", "T07"]  # T08/T09: cluster; T00-T03: category A
    assert _mine(k=3, exclude_same_cluster=False) == ["T11", "T10", "T09"]
    got = _mine(k=12, exclude_same_category=False, exclude_same_cluster=False)
    assert "T02" in got and "T01" not in got and "T00" not in got  # never the positive / itself


@pytest.mark.config_keys("pairs.negatives.range_min", "pairs.negatives.range_max",
                         "pairs.negatives.sampling")
def test_rank_window_and_sampling() -> None:
    assert _mine(k=2, range_min=1) == ["T10", "T07"]
    assert _mine(k=5, range_max=3) == ["T11", "T10", "T07"]
    picks = {tuple(_mine(k=2, range_max=5, sampling="random", seed=s)) for s in range(8)}
    assert len(picks) > 1 and all(set(p) <= {"T11", "T10", "T07", "T06", "T05"} for p in picks)


@pytest.mark.config_keys("pairs.negatives.margin", "pairs.negatives.max_score")
def test_margin_and_max_score_guard_against_false_negatives() -> None:
    # positive T01 scores 0.5: with a 10% relative margin only scores <= 0.45 survive
    assert _mine(k=2, margin=0.1) == ["T04"]
    assert _mine(k=2, max_score=0.95) == ["T10", "T07"]


@pytest.mark.config_keys("pairs.negatives.labelled")
def test_labelled_negatives_come_first() -> None:
    corpus = Corpus(TICKETS, CLUSTERS, LINKED)
    ids, src = mine(PAIRS, corpus, FixedScorer(), NegativesConfig(margin=None), 2, 0,
                    labelled={"T00": ["T02"]}, categories=CATS)
    assert ids[0] == ["T02", "T11"] and src[0] == ["labelled", "bm25"]


@pytest.mark.config_keys("pairs.negatives.strategy", "pairs.negatives.per_anchor")
def test_strategies_through_the_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stage, "loss_format", lambda cfg: ("triplet", 1))
    out = {}
    for strategy in ("random", "bm25"):
        cfg, run = ingested(tmp_path / strategy, {"negatives": {
            "strategy": strategy, "per_anchor": 2, "hardness_sample": 0, "labelled": False}})
        r = stage.run_pairs(cfg, run)
        out[strategy] = r.summary["train"]["negatives"]
        side = pd.read_parquet(run.path / "pairs" / "train_ids.parquet")
        assert side.groupby(["anchor_id", "positive_id"]).size().max() == 2
    assert set(out["random"]["per_source"]) == {"random"}
    assert set(out["bm25"]["per_source"]) == {"bm25"}
    assert out["bm25"]["per_anchor_mean"] == 2.0


@pytest.mark.config_keys("pairs.negatives.model", "pairs.negatives.batch_size",
                         "pairs.negatives.hardness_sample", "pairs.examples")
def test_model_mining_caches_embeddings_and_reports_hardness(
        tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ticketsim.inference.torch_backend import TorchEncoder

    monkeypatch.setattr(stage, "loss_format", lambda cfg: ("triplet", 1))
    batches: list[int] = []
    sizes: list[int] = []
    orig = TorchEncoder.encode

    def counting(self, texts, batch_size=64, *a, **kw):  # type: ignore[no-untyped-def]
        batches.append(len(texts))
        sizes.append(batch_size)
        return orig(self, texts, batch_size, *a, **kw)
    monkeypatch.setattr(TorchEncoder, "encode", counting)
    cfg, run = ingested(tmp_path, {"negatives": {"strategy": "model", "model": str(tiny_model_dir),
                                                 "batch_size": 7, "hardness_sample": 5,
                                                 "margin": None},
                                   "examples": 1})
    r = stage.run_pairs(cfg, run)
    assert batches and set(sizes) == {7}  # the corpus goes through in batches of 7
    tr = r.summary["train"]
    assert tr["negatives"]["per_source"].get("model", 0) > 0
    h = tr["hardness"]
    assert h["anchors"] == 5 and h["model_similarity"]["model"] == str(tiny_model_dir)
    assert h["bm25_rank"]["mined"] > 0 and "random" in h["model_similarity"]
    assert all(len(v) == 1 for v in tr["examples"].values())
    assert (run.path / "cache" / "embeddings.sqlite").is_file()
    batches.clear()
    stage.run_pairs(cfg, run, force=True)
    assert sum(batches) < 20  # the corpus came from the cache; only new query texts encoded
