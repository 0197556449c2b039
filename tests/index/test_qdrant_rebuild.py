"""Atomic Qdrant rebuilds in server mode: build into a new collection, then swap the alias.

No Qdrant server here: the client factory is pointed at one shared local-mode storage,
which implements aliases (``update_collection_aliases``) like the server does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from index_helpers import index_config, make_run, tiny_tickets

from ticketsim.index.search import Searcher
from ticketsim.index.stage import run_index

qdrant_client = pytest.importorskip("qdrant_client")

URL = "http://qdrant.test:6333"


@pytest.fixture()
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """One local-mode client standing in for a server: every connection gets it, close is a no-op."""
    client = qdrant_client.QdrantClient(path=str(tmp_path / "server"))
    monkeypatch.setattr(client, "close", lambda **kw: None)
    seen: list[str | None] = []

    def connect(url, folder):  # type: ignore[no-untyped-def]
        seen.append(url)
        return client

    monkeypatch.setattr("ticketsim.index.qdrant_backend._connect", connect)
    yield client
    assert seen and all(u == URL for u in seen)
    qdrant_client.QdrantClient.close(client)


def other_tickets() -> pd.DataFrame:
    df = tiny_tickets(per_topic=5)
    df["id"] = [f"B{i}" for i in range(len(df))]
    return df


def physical(run) -> str:  # type: ignore[no-untyped-def]
    return json.loads((run.stage_path("index") / "meta.json").read_text())["qdrant_physical"]


def aliases(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {a.alias_name: a.collection_name for a in client.get_aliases().aliases}


def test_crash_mid_rebuild_leaves_alias_on_the_old_collection(
        server, tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ticketsim.index.qdrant_backend import QdrantBackend

    run = make_run(tmp_path / "run")
    cfg = index_config(tiny_model_dir, backend="qdrant", qdrant_url=URL, qdrant_collection="desk")
    run_index(cfg, run)
    a = physical(run)
    assert a.startswith("desk-") and aliases(server) == {"desk": a}
    assert server.count("desk").count == 24

    # the export changes; the rebuild crashes halfway through writing vectors
    with run.stage("ingest", "in-2") as tmp:
        other_tickets().to_parquet(tmp / "tickets.parquet")
    real = QdrantBackend.upsert
    built: list[str] = []

    def crash(self, keys, vectors):  # type: ignore[no-untyped-def]
        built.append(self.target)
        real(self, keys[:10], vectors[:10])
        raise RuntimeError("killed mid-upsert")

    monkeypatch.setattr(QdrantBackend, "upsert", crash)
    with pytest.raises(RuntimeError, match="killed"):
        run_index(cfg, run)
    monkeypatch.setattr(QdrantBackend, "upsert", real)
    assert built and built[0] != a and built[0].startswith("desk-")  # written aside, not to A
    assert aliases(server) == {"desk": a}
    assert [c.name for c in server.get_collections().collections] == [a]  # half build dropped
    s = Searcher(run, cfg)
    try:
        assert s.index.backend.target == "desk"  # queries go through the alias
        assert len(s.index.backend) == 24
        hits = s.search(ticket_id="T00", k=3)
        assert hits[0].id == "T02" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    finally:
        s.close()

    # a rebuild that finishes swaps the alias in one call and drops A
    run_index(cfg, run)
    b = physical(run)
    assert b != a and aliases(server) == {"desk": b}
    assert [c.name for c in server.get_collections().collections] == [b]
    s = Searcher(run, cfg)
    try:
        assert len(s.index.backend) == 30
        assert {h.id for h in s.search("vpn cannot connect", k=30)} <= set(other_tickets()["id"])
    finally:
        s.close()


def test_first_alias_build_replaces_a_collection_of_the_same_name(
        server, tmp_path: Path, tiny_model_dir: Path) -> None:
    """A collection called like the alias (built before aliases) is migrated once."""
    from qdrant_client import models

    server.create_collection("desk", vectors_config=models.VectorParams(
        size=32, distance=models.Distance.COSINE))
    server.upload_collection("desk", vectors=np.ones((1, 32), np.float32), ids=[7])
    run = make_run(tmp_path / "run")
    cfg = index_config(tiny_model_dir, backend="qdrant", qdrant_url=URL, qdrant_collection="desk")
    run_index(cfg, run)
    assert aliases(server) == {"desk": physical(run)}
    assert server.count("desk").count == 24


def test_local_mode_keeps_one_collection_in_the_index_folder(tmp_path: Path,
                                                             tiny_model_dir: Path) -> None:
    """Without a URL the folder rename is the atomic step: no alias, no stamp in meta."""
    run = make_run(tmp_path / "run")
    cfg = index_config(tiny_model_dir, backend="qdrant", qdrant_collection="desk")
    run_index(cfg, run)
    meta = json.loads((run.stage_path("index") / "meta.json").read_text())
    assert "qdrant_physical" not in meta
    s = Searcher(run, cfg)
    try:
        assert s.index.backend.target == "desk" and len(s.index.backend) == 24
    finally:
        s.close()
