"""The re-ranker: mined pairs, CrossEncoderTrainer on the tiny BERT, the train-stage hook,
and the folder serving as ``search.cross_encoder``."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from training_helpers import make_run, tiny_cfg

from ticketsim.errors import ModelNotFoundError, TicketsimError
from ticketsim.rundir import RunDir
from ticketsim.training.cross_encoder import OUTPUT, reranker_pairs, train_from_run


def _with_links(run: RunDir, n: int = 12) -> list[tuple[str, str]]:
    """Known links between same-topic tickets (topic = id mod 8), some across splits."""
    t = pd.read_parquet(run.path / "ingest" / "tickets.parquet")
    ids = t["id"].tolist()
    links = [(ids[i], ids[i + 8]) for i in range(2, 2 + n)]
    pd.DataFrame({"a": [a for a, _ in links], "b": [b for _, b in links], "label": 1,
                  "kind": "duplicate"}).to_parquet(run.path / "ingest" / "links.parquet")
    return links


def test_pairs_are_links_both_ways_plus_mined_negatives(tiny_model_dir: Path) -> None:
    texts = ["vpn token connect", "vpn connect wifi", "printer jam toner", "printer toner driver",
             "password reset locked", "excel crash pdf", "badge access folder", "sap payroll hr"]
    df = reranker_pairs(texts, [(0, 1), (2, 3)], str(tiny_model_dir), negatives=2,
                        relative_margin=0.0)
    pos = df[df["label"] == 1]
    assert sorted(zip(pos["query"], pos["passage"], strict=True)) == sorted([
        (texts[0], texts[1]), (texts[1], texts[0]), (texts[2], texts[3]), (texts[3], texts[2])])
    neg = df[df["label"] == 0]
    assert 0 < len(neg) <= 2 * 4
    assert not (neg["query"] == neg["passage"]).any()  # a ticket is never its own negative
    for q, p in zip(neg["query"], neg["passage"], strict=True):
        assert (q, p) not in set(zip(pos["query"], pos["passage"], strict=True))


@pytest.mark.config_keys("train.cross_encoder.negatives", "train.cross_encoder.epochs",
                         "train.cross_encoder.batch_size", "train.cross_encoder.learning_rate",
                         "train.cross_encoder.max_length", "train.cross_encoder.base_model",
                         "train.cross_encoder.relative_margin")
def test_trains_a_cross_encoder_folder_from_training_links(tmp_path: Path,
                                                           tiny_model_dir: Path) -> None:
    from sentence_transformers import CrossEncoder

    run = make_run(tmp_path / "run", "pair")
    _with_links(run)
    split = pd.read_parquet(run.path / "pairs" / "split.parquet").set_index("id")["split"]
    cfg = tiny_cfg(tiny_model_dir, cross_encoder={
        "enabled": True, "negatives": 2, "relative_margin": 0.0, "epochs": 2, "batch_size": 4, "learning_rate": 1e-4,
        "max_length": 48, "base_model": str(tiny_model_dir)})
    cfg.train.base_model = "/nonexistent"  # the cross-encoder's own base_model is used
    out = tmp_path / "ce"
    s = train_from_run(cfg, run, out)
    train_links = [(a, b) for a, b in _with_links(run)
                   if split[a] == "train" and split[b] == "train"]
    assert 0 < s["links"] == len(train_links) < 12  # links touching test / validation left out
    assert s["positives"] == 2 * len(train_links)
    assert s["positives"] < s["negatives"] <= 2 * s["positives"]
    assert s["epochs"] == 2 and s["batch_size"] == 4 and s["learning_rate"] == 1e-4
    assert s["steps"] == 2 * math.ceil((s["positives"] + s["negatives"]) / 4)
    model = CrossEncoder(str(out), device="cpu")
    assert model.max_length == 48
    scores = model.predict([("vpn token connect", "vpn wifi network"), ("vpn token", "jam toner")])
    assert scores.shape == (2,)
    cfg.train.cross_encoder.relative_margin = 0.5  # the tiny model's cosines are all close
    with pytest.raises(TicketsimError, match=r"\(got \d+ positive, 0 negative\)"):
        train_from_run(cfg, run, tmp_path / "ce1")
    assert not (tmp_path / "ce1").exists()
    cfg.train.cross_encoder.base_model = str(tmp_path / "missing")
    with pytest.raises(ModelNotFoundError):
        train_from_run(cfg, run, tmp_path / "ce2")


@pytest.mark.slow
@pytest.mark.config_keys("train.cross_encoder.enabled")
def test_train_stage_writes_cross_encoder_used_by_search(tmp_path: Path,
                                                         tiny_model_dir: Path) -> None:
    """enabled: the train stage writes train/cross_encoder; search re-ranks with it."""
    from ticketsim.index.search import Searcher
    from ticketsim.index.stage import run_index
    from ticketsim.training.stage import run_train

    run = make_run(tmp_path / "run", "pair")
    _with_links(run)
    cfg = tiny_cfg(tiny_model_dir, cross_encoder={"negatives": 1, "batch_size": 8,
                                                   "relative_margin": 0.0})
    assert not (run_train(cfg, run).path / OUTPUT).exists()  # off by default
    cfg.train.cross_encoder.enabled = True
    res = run_train(cfg, run)
    assert not res.skipped and (res.path / OUTPUT / "config.json").is_file()
    assert res.summary["cross_encoder"]["positives"] > 0
    run_index(cfg, run)
    cfg.search.cross_encoder = res.path / OUTPUT
    cfg.search.rerank_top = 5
    s = Searcher(run, cfg)
    try:
        hits = s.search("vpn token connect", k=5)
        assert len(hits) == 5 and all(h.rerank is not None for h in hits)
        assert [h.rerank for h in hits] == sorted((h.rerank for h in hits), reverse=True)
    finally:
        s.close()
