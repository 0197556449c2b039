"""Selection strategies on hand-made candidate pools: each picks what its docstring promises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ticketsim.active.candidates import PAIR_COLUMNS, CandidatePool
from ticketsim.active.strategies import build_strategy
from ticketsim.active.strategies.disagreement import DisagreementStrategy
from ticketsim.active.strategies.diversity import DiversityStrategy
from ticketsim.active.strategies.random import RandomStrategy
from ticketsim.active.strategies.uncertainty import UncertaintyStrategy
from ticketsim.config import LabelConfig, config_from_dict
from ticketsim.errors import ConfigError


def pool(n: int = 12, groups: list[str] | None = None, probability: bool = True) -> CandidatePool:
    ids = [f"T{i:02d}" for i in range(n + 1)]
    rows = []
    for i in range(n):
        rows.append({"a": ids[i], "b": ids[i + 1], "anchor": ids[i], "score": i / n,
                     "probability": i / n if probability else np.nan,
                     "dense_rank": i + 1, "keyword_rank": n - i,
                     "group": groups[i] if groups else ""})
    tickets = pd.DataFrame({"id": ids, "text": ids})
    vecs = np.random.default_rng(0).normal(size=(len(ids), 8)).astype(np.float32)
    return CandidatePool(pd.DataFrame(rows)[PAIR_COLUMNS], tickets, vecs,
                         0.5 if probability else None)


def test_uncertainty_asks_the_pairs_nearest_the_threshold_probability() -> None:
    out = UncertaintyStrategy().select(pool(), 3)
    # probabilities are i/12; the decision point is 0.5 -> i = 6, then 5 and 7 (tie, seeded order)
    assert out.loc[0, "probability"] == pytest.approx(0.5)
    assert set(out["probability"].round(4)) == {0.5, round(5 / 12, 4), round(7 / 12, 4)}
    assert out["priority"].is_monotonic_decreasing and "near threshold" in out.loc[0, "reason"]


def test_uncertainty_without_thresholds_uses_the_median_similarity() -> None:
    out = UncertaintyStrategy().select(pool(11, probability=False), 1)
    assert out.loc[0, "score"] == pytest.approx(5 / 11)  # the median of 0/11 .. 10/11
    assert "no thresholds" in out.loc[0, "reason"]


def test_disagreement_asks_where_bm25_and_the_model_rank_most_differently() -> None:
    out = DisagreementStrategy().select(pool(), 2)
    # dense rank i+1, keyword rank 12-i: the ends (1 vs 12) disagree most
    assert {(r.dense_rank, r.keyword_rank) for r in out.itertuples()} == {(1, 12), (12, 1)}
    assert out.loc[0, "priority"] == pytest.approx(np.log2(12))


def test_diversity_spreads_the_batch_over_categories() -> None:
    groups = ["Net"] * 9 + ["Mail", "Print", "Access"]
    p = pool(12, groups)
    # uncertainty alone would take 4 "Net" pairs (p = 6/12, 5/12, 7/12, 4/12 are all Net)
    assert set(UncertaintyStrategy().select(p, 4)["group"]) == {"Net"}
    out = DiversityStrategy().select(p, 4)
    assert sorted(out["group"]) == ["Access", "Mail", "Net", "Print"]
    assert out.loc[0, "group"] == "Net" and out.loc[0, "probability"] == pytest.approx(0.5)


def test_diversity_clusters_embeddings_when_tickets_have_no_category() -> None:
    s = DiversityStrategy(clusters=3, seed=1)
    out = s.select(pool(12), 3)
    assert s.last_groups is not None and len(set(s.last_groups)) == 3
    assert len({r.split(":")[0] for r in out["reason"]}) == 3


def test_random_is_seeded_and_stays_inside_the_pool() -> None:
    p = pool()
    one, two = RandomStrategy(seed=3).select(p, 5), RandomStrategy(seed=3).select(p, 5)
    other = RandomStrategy(seed=4).select(p, 5)
    assert one[["a", "b"]].equals(two[["a", "b"]])
    assert not one[["a", "b"]].equals(other[["a", "b"]])
    assert set(one["a"]) <= set(p.pairs["a"])


def test_n_larger_than_the_pool_returns_the_whole_pool() -> None:
    for name in ("uncertainty", "disagreement", "diversity", "random"):
        assert len(build_strategy(LabelConfig(), name).select(pool(4, ["x"] * 4), 50)) == 4


@pytest.mark.config_keys("label.strategy", "label.seed", "label.clusters")
def test_label_keys_reach_the_built_strategy() -> None:
    cfg = config_from_dict({"label": {"strategy": "diversity", "seed": 7, "clusters": 5}})
    s = build_strategy(cfg.label)
    assert (s.name, s.seed, s.clusters) == ("diversity", 7, 5)
    assert build_strategy(cfg.label, "random").seed == 7
    with pytest.raises(ConfigError, match="label.strategy"):
        build_strategy(cfg.label, "loudest")
    with pytest.raises(ConfigError, match="label.strategy"):
        config_from_dict({"label": {"strategy": "loudest"}})
