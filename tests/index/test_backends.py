"""Both vector backends pass the same tests: upsert/replace/delete, filters, recall vs exact, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ticketsim.index.base import truncate

BACKENDS = ["usearch", "qdrant"]


def make(name: str, folder: Path, dim: int = 16, precision: str = "f32", **kw: object):
    if name == "usearch":
        from ticketsim.index.usearch_backend import UsearchBackend

        return UsearchBackend(folder, dim, precision, **kw)  # type: ignore[arg-type]
    pytest.importorskip("qdrant_client")
    from ticketsim.index.qdrant_backend import QdrantBackend

    kw = {("hnsw_ef" if k == "expansion_search" else k): v for k, v in kw.items()}
    return QdrantBackend(folder, dim, precision, **kw)  # type: ignore[arg-type]


def unit(n: int, dim: int, seed: int = 0) -> np.ndarray:
    return truncate(np.random.default_rng(seed).normal(size=(n, dim)), None)


@pytest.mark.parametrize("name", BACKENDS)
def test_upsert_replace_delete_and_search(name: str, tmp_path: Path) -> None:
    b = make(name, tmp_path)
    v = unit(50, 16)
    b.upsert(np.arange(50), v)
    assert len(b) == 50
    keys, scores = b.search(v[7], 3)
    assert keys[0] == 7 and scores[0] == pytest.approx(1.0, abs=1e-4)
    b.upsert(np.array([7]), v[8:9])  # replace 7's vector with 8's
    keys, _ = b.search(v[7], 1)
    assert keys[0] != 7
    assert set(b.search(v[8], 2)[0]) == {7, 8}
    b.delete([8, 999])
    assert len(b) == 49
    assert 8 not in set(b.search(v[8], 5)[0])
    b.close()


@pytest.mark.parametrize("name", BACKENDS)
def test_allowed_keys_filter(name: str, tmp_path: Path) -> None:
    b = make(name, tmp_path)
    v = unit(40, 16, seed=1)
    b.upsert(np.arange(40), v)
    allowed = np.array([3, 5, 30])
    keys, scores = b.search(v[0], 10, allowed)
    assert set(keys) == {3, 5, 30}
    exact = v[[3, 5, 30]] @ v[0]
    assert sorted(scores.tolist(), reverse=True) == pytest.approx(sorted(exact, reverse=True), abs=1e-3)
    assert len(b.search(v[0], 10, np.array([], dtype=np.int64))[0]) == 0
    b.close()


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("precision", ["f32", "f16", "i8"])
def test_precisions_recall_against_exact(name: str, precision: str, tmp_path: Path) -> None:
    n, dim = (600 if name == "usearch" else 120), 32  # qdrant local mode persists ~15 ms/point
    v = unit(n, dim, seed=2)
    q = unit(20, dim, seed=3)
    b = make(name, tmp_path, dim, precision, exact_below=0)
    b.upsert(np.arange(n), v)
    truth = np.argsort(-(q @ v.T), axis=1)[:, :10]
    rec = np.mean([len(set(b.search(q[i], 10)[0]) & set(truth[i])) / 10 for i in range(len(q))])
    assert rec >= 0.9, rec
    b.close()


@pytest.mark.parametrize("name", BACKENDS)
def test_save_and_reopen(name: str, tmp_path: Path) -> None:
    b = make(name, tmp_path)
    v = unit(30, 16, seed=4)
    b.upsert(np.arange(30), v)
    assert b.saved_seq() == -1
    b.save(5)
    b.close()
    b2 = make(name, tmp_path)
    assert b2.saved_seq() == 5 and len(b2) == 30
    assert b2.search(v[11], 1)[0][0] == 11
    b2.close()


def test_usearch_exact_below_switches_to_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    b = make("usearch", tmp_path, exact_below=100)
    b.upsert(np.arange(50), unit(50, 16))
    calls: list[bool] = []
    real = b.index.search

    def spy(q, k, **kw):  # type: ignore[no-untyped-def]
        calls.append(kw.get("exact", False))
        return real(q, k, **kw)

    monkeypatch.setattr(b.index, "search", spy)
    b.search(unit(1, 16)[0], 5)
    assert calls == [True]
    b.exact_below = 10
    b.search(unit(1, 16)[0], 5)
    assert calls == [True, False]


def test_truncate_is_matryoshka() -> None:
    v = np.array([[3.0, 4.0, 12.0]])
    t = truncate(v, 2)
    assert t.shape == (1, 2) and t[0] == pytest.approx([0.6, 0.8])
