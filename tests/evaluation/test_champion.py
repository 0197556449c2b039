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


def test_the_default_reads_the_way_that_scored_higher() -> None:
    """finetuned+lead (index.lead_weight auto) is the default model read another way: no
    change of system, so the better-scoring reading is the default, without a margin; other
    systems still have to beat that default beyond the noise."""
    pq = _pq(bm25=-0.2, base=-0.1, finetuned=0.0)
    pq["finetuned+lead"] = {"mrr@10": pq["finetuned"]["mrr@10"] + np.tile([0.31, -0.30], N // 2)}
    rec = choose(pq)  # +0.005 on average, far inside the noise: still the better reading
    assert (rec["system"], rec["mode"], rec["model"]) == ("finetuned+lead", "dense", "finetuned")
    assert rec["default"] == "finetuned+lead"
    assert rec["sentence"].startswith("serving dense + fine-tuned, lead view (the default")
    pq["finetuned+lead"] = {"mrr@10": pq["finetuned"]["mrr@10"] - 0.01}
    assert choose(pq)["system"] == "finetuned"
    rec = choose(_pq(bm25=-0.2, base=-0.1, finetuned=0.0, hybrid=0.05, **{"finetuned+lead": 0.01}))
    assert rec["system"] == "hybrid" and rec["default"] == "finetuned+lead"
    # a lead-read fine-tuned model that loses to the base model read the same way is not served
    rec = choose(_pq(bm25=-0.3, finetuned=-0.2, **{"finetuned+lead": 0.0, "base+lead": 0.1,
                                                    "base": -0.25}))
    assert rec["system"] == "base+lead" and rec["model"] == "base"


def test_out_of_fold_scores_each_fold_with_what_the_others_chose() -> None:
    """The in-sample champion flatters itself; out of fold, a system that wins only on one
    fold's queries is not chosen for that fold (the other folds saw no gain)."""
    pq = _pq(bm25=-0.2, base=-0.1, finetuned=0.0)
    fold = np.repeat(np.arange(4), N // 4)
    lucky = pq["finetuned"]["mrr@10"].copy()
    lucky[fold == 0] += 0.4  # a big win on fold 0 only
    pq["hybrid"] = {"mrr@10": lucky}
    assert choose(pq)["system"] == "hybrid"  # in sample: beyond the noise, thanks to fold 0
    oof = champion.out_of_fold(pq, fold, "mrr@10", "dense", 500, 0, 0.95)
    assert oof is not None
    assert oof["chosen"][0] == "finetuned"  # chosen without fold 0: no gain seen
    np.testing.assert_allclose(oof["per_query"][fold == 0], pq["finetuned"]["mrr@10"][fold == 0])
    assert oof["value"] < float(lucky.mean())
    strong = _pq(bm25=-0.2, base=-0.1, finetuned=0.0, hybrid=0.05)
    oof = champion.out_of_fold(strong, fold, "mrr@10", "dense", 500, 0, 0.95)
    assert oof is not None and oof["chosen"] == ["hybrid"] * 4
    assert oof["value"] == pytest.approx(float(strong["hybrid"]["mrr@10"].mean()))
    assert champion.out_of_fold(strong, np.zeros(N, int), "mrr@10", "dense", 500, 0, 0.95) is None
