"""Candidate pairs: retrieved neighbours only, known pairs never again, config keys honoured."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from active_helpers import indexed_run

from ticketsim.active.candidates import CandidateGenerator, pool_for_run
from ticketsim.config import config_from_dict
from ticketsim.data.store import LinksStore
from ticketsim.thresholds import Thresholds


def toy(n: int = 30) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    words = ["vpn", "printer", "outlook", "account", "excel"]
    texts = [f"{words[i % 5]} problem {i} {words[(i * 3) % 5]}" for i in range(n)]
    vecs = rng.normal(size=(n, 16)).astype(np.float32)
    return pd.DataFrame({"id": [f"T{i:02d}" for i in range(n)], "text": texts,
                         "category": [words[i % 5] for i in range(n)]}), vecs


@pytest.mark.config_keys("label.candidates_k", "label.keyword_k", "label.anchors")
def test_generator_reads_its_keys_and_limits_the_pool_by_them() -> None:
    cfg = config_from_dict({"label": {"candidates_k": 2, "keyword_k": 0, "anchors": 10, "seed": 3}})
    gen = CandidateGenerator.from_config(cfg.label)
    assert (gen.candidates_k, gen.keyword_k, gen.anchors, gen.seed) == (2, 0, 10, 3)
    tickets, vecs = toy()
    p = gen.generate(tickets, vecs)
    assert p.pairs["anchor"].nunique() <= 10
    assert (p.pairs["dense_rank"] <= 2).all()  # keyword_k 0: model neighbours only
    with_kw = CandidateGenerator(2, 3, 10, 3).generate(tickets, vecs)
    assert (with_kw.pairs["dense_rank"] > 2).any() and len(with_kw) > len(p)
    assert (np.minimum(with_kw.pairs["dense_rank"], with_kw.pairs["keyword_rank"]) <= 3).all()
    every = CandidateGenerator(2, 0, 0).generate(tickets, vecs)
    assert every.pairs["anchor"].nunique() > 10


def test_ranks_are_exact_and_pairs_are_unique_and_ordered() -> None:
    tickets, vecs = toy(12)
    p = CandidateGenerator(3, 3, 0).generate(tickets, vecs)
    assert (p.pairs["a"] < p.pairs["b"]).all()
    assert not p.pairs.duplicated(["a", "b"]).any()
    v = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    r = p.pairs.iloc[0]
    i, j = int(r.anchor[1:]), int((r.b if r.anchor == r.a else r.a)[1:])
    sims = v @ v[i]
    sims[i] = -np.inf
    assert r.dense_rank == int((sims > sims[j]).sum()) + 1
    assert r.score == pytest.approx(float(v[i] @ v[j]), abs=1e-5)


def test_known_pairs_and_disallowed_tickets_are_never_candidates() -> None:
    tickets, vecs = toy(12)
    first = CandidateGenerator(3, 3, 0).generate(tickets, vecs)
    known = {(r.b, r.a) for r in first.pairs.head(5).itertuples()}  # reversed order on purpose
    allowed = set(tickets["id"][:8])
    p = CandidateGenerator(3, 3, 0).generate(tickets, vecs, exclude=known, allowed_ids=allowed)
    got = set(zip(p.pairs["a"], p.pairs["b"], strict=True))
    assert not got & {(b, a) for a, b in known}
    assert set(p.pairs["a"]) | set(p.pairs["b"]) <= allowed


def test_probability_is_the_calibrated_one() -> None:
    tickets, vecs = toy(10)
    th = Thresholds(model_fingerprint="x", duplicate=0.5, related=0.3, calib_a=4.0, calib_b=-2.0)
    p = CandidateGenerator(2, 0, 0).generate(tickets, vecs, thresholds=th)
    assert p.decision_probability == pytest.approx(0.5)
    r = p.pairs.iloc[0]
    assert r.probability == pytest.approx(th.probability(r.score))


def test_pool_for_run_uses_the_index_thresholds_and_the_store(tmp_path: Path,
                                                              tiny_model_dir: Path) -> None:
    cfg, run = indexed_run(tmp_path, tiny_model_dir)
    p = pool_for_run(cfg, run)
    assert p.decision_probability is not None and p.pairs["probability"].notna().all()
    known = LinksStore(cfg.data.links_store).known_pairs()
    assert known and not known & set(zip(p.pairs["a"], p.pairs["b"], strict=True))
    assert set(p.pairs["group"]) <= {"Network/VPN", "Email/Outlook", "Hardware/Printer",
                                      "Access/Account", "Software/Install"}
