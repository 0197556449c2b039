"""The champion rule: switch only beyond the noise; never serve a fine-tuned model that loses."""

from __future__ import annotations

import numpy as np
import pytest

from ticketsim.config import config_from_dict
from ticketsim.errors import ConfigError
from ticketsim.evaluation import champion

N = 200


def _pq(**means: float) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    shared = rng.uniform(0, 1, N)  # paired: the same queries are easy or hard for every system
    return {s: {"mrr@10": np.clip(shared + m + rng.normal(0, 0.02, N), 0, 1)}
            for s, m in means.items()}


def choose(pq: dict, mode: str = "dense") -> dict:
    rec = champion.choose(pq, "mrr@10", mode, 500, 0, 0.95)
    assert rec is not None
    return rec


def test_a_challenger_beyond_the_noise_replaces_the_default() -> None:
    rec = choose(_pq(bm25=-0.2, base=-0.1, finetuned=0.0, hybrid=0.05))
    assert (rec["system"], rec["mode"], rec["model"]) == ("hybrid", "hybrid", "finetuned")
    assert rec["vs_default"]["low"] > 0 and rec["default"] == "finetuned"
    assert rec["sentence"].startswith("serving hybrid + fine-tuned: +0.05 MRR@10 over dense + "
                                      "fine-tuned, 95 % CI +0.0")
    assert rec["sentence"].endswith(f"{N} queries")


def test_a_gain_inside_the_noise_keeps_the_default() -> None:
    pq = _pq(bm25=-0.2, finetuned=0.0)
    # higher on average (+0.005) but as often far below as far above: noise
    pq["hybrid"] = {"mrr@10": pq["finetuned"]["mrr@10"] + np.tile([0.31, -0.30], N // 2)}
    rec = choose(pq)
    assert rec["system"] == "finetuned" and rec["best"] == "hybrid"
    assert rec["vs_default"]["low"] < 0 < rec["vs_default"]["high"]
    assert "inside the noise" in rec["sentence"]


def test_a_finetuned_model_that_loses_to_bm25_is_never_served() -> None:
    pq = _pq(bm25=0.1, base=-0.05, finetuned=0.0, **{"hybrid-base": 0.05})
    # hybrid + fine-tuned scores highest but only inside the noise, so the default would stay;
    # the default (fine-tuned dense) loses to BM25 beyond the noise: BM25 is served instead
    pq["hybrid"] = {"mrr@10": pq["finetuned"]["mrr@10"] + np.tile([1.21, -1.0], N // 2)}
    rec = choose(pq)
    assert rec["best"] == "hybrid" and rec["system"] == "bm25" and rec["model"] == "base"
    assert "not served" in rec["reason"] and "not served" in rec["sentence"]
    rec = choose(_pq(bm25=0.1, base=-0.05, finetuned=0.0), mode="keyword")
    assert rec["system"] == "bm25" and rec["model"] == "base"  # the index embeds with base


def test_default_follows_search_mode() -> None:
    rec = choose(_pq(bm25=0.0, finetuned=0.0, hybrid=0.0), mode="hybrid")
    assert rec["default"] == "hybrid" and rec["system"] == "hybrid"
    assert champion.describe("bm25") == "keyword (BM25)"


def test_old_evaluate_hybrid_key_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="evaluate.hybrid was removed.*search.rrf_k"):
        config_from_dict({"evaluate": {"hybrid": {"rrf_k": 10}}})


def test_removed_folds_min_queries_names_its_replacement() -> None:
    with pytest.raises(ConfigError, match="evaluate.folds.min_queries was removed.*"
                                          "evaluate.crossfit_min_queries"):
        config_from_dict({"evaluate": {"folds": {"k": 3, "min_queries": 300}}})
    assert config_from_dict({"evaluate": {"folds": {"k": 3}}}).evaluate.folds.k == 3


def test_when_the_default_wins_its_margin_over_the_runner_up_is_given() -> None:
    rec = choose(_pq(bm25=-0.2, base=-0.1, finetuned=0.05, hybrid=0.0))
    assert rec["system"] == rec["default"] == rec["best"] == "finetuned"
    assert rec["compared"] == "hybrid" and rec["vs_default"]["low"] > 0
    assert rec["sentence"].startswith("serving dense + fine-tuned (the default, best on MRR@10): "
                                      "+0.05 MRR@10 over the next best, hybrid + fine-tuned, 95 % CI")
