"""KeywordRows: the kNN routing vote reads each ticket's best matches only, and votes the same."""

from __future__ import annotations

import numpy as np

from ticketsim.evaluation.routing import evaluate_routing
from ticketsim.retrieval.keyword import KeywordRows

WORDS = ["vpn", "printer", "outlook", "password", "laptop", "badge", "wifi", "sap", "teams", "disk"]


def _corpus(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    topic = rng.integers(0, 5, n)
    texts = [" ".join([WORDS[2 * t], WORDS[2 * t + 1], *rng.choice(WORDS, 3)]) for t in topic]
    return texts, np.array([f"cat{t}" for t in topic], dtype=object)


def test_rows_hold_the_best_matches_of_the_full_rows() -> None:
    texts, _ = _corpus(120)
    full, top = KeywordRows(texts, limit=None), KeywordRows(texts, limit=7)
    q = np.arange(0, 120, 13)
    f, t = full(q), top(q)
    assert ((t > 0).sum(axis=1) == 7).all() and ((f > 0).sum(axis=1) > 7).all()
    for row in range(len(q)):
        kept = np.flatnonzero(t[row])
        assert np.allclose(t[row, kept], f[row, kept])  # the same BM25 scores
        assert f[row, kept].min() >= np.sort(f[row])[-7] - 1e-6  # and the best 7 of them


def test_routing_vote_is_the_same_with_the_limit() -> None:
    texts, cats = _corpus(300, seed=1)
    split = np.where(np.arange(300) % 5 == 0, "test", "train")
    full = evaluate_routing(KeywordRows(texts, limit=None), split, {"category": cats}, 5)
    top = evaluate_routing(KeywordRows(texts, limit=60), split, {"category": cats}, 5)
    assert full.keys() == top.keys() == {"category"} and full["category"]["n"] == 60
    for key, value in full["category"].items():  # the same answer for every ticket
        assert np.array_equal(top["category"][key], value), key
    assert full["category"]["accuracy"] > 0.5  # the topic words route (5 classes)


def test_rows_score_like_the_fts5_engine() -> None:
    """bm25s set up as FTS5 gives FTS5's scores (no word is in over half the tickets here)."""
    from ticketsim.retrieval.keyword import KeywordIndex

    rng = np.random.default_rng(3)
    vocab = [f"w{i}" for i in range(40)] + ["Café", "cafe", "x_y", "naïve"]
    texts = [" ".join(rng.choice(vocab, rng.integers(1, 9))) for _ in range(200)]
    texts[5] = "Café naïve x_y CAFE"  # diacritics folded, '_' separates, case folded
    q = np.arange(0, 200, 7)
    rows = KeywordRows(texts, limit=None)(q)
    fts = KeywordIndex(texts).scores([texts[int(i)] for i in q])
    assert (rows > 0).sum() > 100
    np.testing.assert_allclose(rows, fts, rtol=1e-4, atol=1e-5)
