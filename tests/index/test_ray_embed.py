"""Embedding shards: the index stage loads them (checked against model and tickets); Ray writes them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from index_helpers import index_config, make_run, tiny_tickets

from ticketsim.config import IndexConfig
from ticketsim.errors import TicketsimError
from ticketsim.index.core import TicketIndex
from ticketsim.index.ray_embed import FORMAT, MANIFEST, load_shards
from ticketsim.index.stage import run_index
from ticketsim.models import model_fingerprint


def write_shards(folder: Path, ids: list[str], vectors: np.ndarray, *, fingerprint: str,
                 encoder: str = "torch", per_shard: int = 10,
                 lead_weight: float = IndexConfig().reading()["lead_weight"]) -> None:
    """Shards by hand, in the documented format (no Ray): parquet id + fixed-size-list vector."""
    folder.mkdir(parents=True, exist_ok=True)
    shards = []
    for i in range(0, len(ids), per_shard):
        v = vectors[i:i + per_shard].astype(np.float32)
        table = pa.table({"id": pa.array(ids[i:i + per_shard], pa.string()),
                          "vector": pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1)),
                                                                      v.shape[1])})
        name = f"part-{len(shards):05d}.parquet"
        pq.write_table(table, folder / name)
        shards.append({"file": name, "rows": len(v)})
    (folder / MANIFEST).write_text(json.dumps({
        "format": FORMAT, "model_path": "m", "model_fingerprint": fingerprint, "encoder": encoder,
        "long_text": "truncate", "lead_weight": lead_weight,
        "dim": int(vectors.shape[1]), "rows": len(ids), "shards": shards}))


def unit(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def index_vectors(run, ids: list[str]) -> np.ndarray:  # type: ignore[no-untyped-def]
    idx = TicketIndex.open(run.stage_path("index"))
    try:
        return idx.store.vectors([idx.store.key_of(i) for i in ids], idx.dim)
    finally:
        idx.close()


@pytest.mark.config_keys("index.embeddings")
def test_index_stage_loads_shards_instead_of_embedding(tmp_path: Path, tiny_model_dir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    tickets = tiny_tickets()
    ids = tickets["id"].tolist()
    run = make_run(tmp_path / "run", tickets)
    shards = tmp_path / "run" / "embeddings"
    # reversed order across several shards, plus a vector for a ticket no longer exported
    vecs = unit(len(ids) + 1)
    write_shards(shards, ["GONE"] + ids[::-1], vecs, fingerprint=model_fingerprint(tiny_model_dir))

    def no_embedding(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("the stage embedded although index.embeddings is set")

    # the stage's own encoder (it embeds the tickets and, for routing, their leads)
    monkeypatch.setattr("ticketsim.index.stage.encoder_for", no_embedding)
    cfg = index_config(tiny_model_dir, embeddings=str(shards))
    res = run_index(cfg, run)
    assert res.summary["tickets"] == len(ids)
    got = index_vectors(run, ids)
    np.testing.assert_allclose(got, vecs[1:][::-1], atol=1e-6)
    assert run_index(cfg, run).skipped
    # new shards (same path) make the stage rerun and load them
    vecs2 = unit(len(ids), seed=1)
    write_shards(shards, ids, vecs2, fingerprint=model_fingerprint(tiny_model_dir))
    assert not run_index(cfg, run).skipped
    np.testing.assert_allclose(index_vectors(run, ids), vecs2, atol=1e-6)


def test_shards_of_another_model_are_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    tickets = tiny_tickets()
    run = make_run(tmp_path / "run", tickets)
    write_shards(tmp_path / "emb", tickets["id"].tolist(), unit(len(tickets)), fingerprint="other")
    cfg = index_config(tiny_model_dir, embeddings=str(tmp_path / "emb"))
    with pytest.raises(TicketsimError, match="fingerprint other") as err:
        run_index(cfg, run)
    assert err.value.field == "model_fingerprint" and err.value.file.endswith(MANIFEST)
    assert "ticketsim embed" in str(err.value)
    assert not run.stage_path("index").exists()


def test_missing_vectors_name_the_tickets(tmp_path: Path, tiny_model_dir: Path) -> None:
    tickets = tiny_tickets()
    ids = tickets["id"].tolist()
    run = make_run(tmp_path / "run", tickets)
    write_shards(tmp_path / "emb", ids[2:], unit(len(ids) - 2),
                 fingerprint=model_fingerprint(tiny_model_dir))
    cfg = index_config(tiny_model_dir, embeddings=str(tmp_path / "emb"))
    with pytest.raises(TicketsimError, match=r"2 of 24 tickets have no vector .*T00, T01"):
        run_index(cfg, run)


def test_encoder_mismatch_and_missing_manifest(tmp_path: Path) -> None:
    write_shards(tmp_path / "emb", ["a"], unit(1), fingerprint="fp", encoder="onnx-int8")
    with pytest.raises(TicketsimError, match="encoder 'onnx-int8'"):
        load_shards(tmp_path / "emb", ["a"], model_fingerprint="fp", encoder="torch")
    np.testing.assert_allclose(load_shards(tmp_path / "emb", ["a"], model_fingerprint="fp"),
                               unit(1), atol=1e-7)
    # vectors read another way than the index reads its queries are refused, naming the key
    write_shards(tmp_path / "emb2", ["a"], unit(1), fingerprint="fp", lead_weight=0.0)
    with pytest.raises(TicketsimError, match="lead_weight 0.0, index.lead_weight is 0.5") as err:
        load_shards(tmp_path / "emb2", ["a"], model_fingerprint="fp",
                    reading={"long_text": "truncate", "lead_weight": 0.5})
    assert err.value.field == "lead_weight"
    with pytest.raises(TicketsimError, match="manifest.json missing") as err:
        load_shards(tmp_path / "nothing", ["a"], model_fingerprint="fp")
    assert err.value.field == "index.embeddings"


def test_embed_help_does_not_import_ray() -> None:
    import subprocess
    import sys

    code = ("import sys; from typer.testing import CliRunner; from ticketsim.cli import app; "
            "r = CliRunner().invoke(app, ['embed', '--help']); assert r.exit_code == 0, r.output; "
            "assert '--address' in r.output; print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_ray_embeds_like_a_local_embed(tmp_path: Path, tiny_model_dir: Path) -> None:
    """A real local Ray instance (2 CPUs: 1 actor + the reader) embeds 200 tickets; the index loads them."""
    pytest.importorskip("ray")
    import pandas as pd

    from ticketsim.index.embed import embed_texts
    from ticketsim.index.ray_embed import embed_with_ray
    from ticketsim.progress import ListReporter

    base = tiny_tickets()
    rows = [dict(base.iloc[i % len(base)], id=f"R{i:03d}", text=f"{base.text[i % len(base)]} #{i}")
            for i in range(200)]
    tickets = pd.DataFrame(rows)
    run = make_run(tmp_path / "run", tickets)
    rep = ListReporter()
    man = embed_with_ray(run.stage_path("ingest") / "tickets.parquet", str(tiny_model_dir),
                         run.path / "embeddings", num_workers=1, batch_size=16, shard_rows=64,
                         lead_weight=0.5, reporter=rep)
    assert man["rows"] == 200 and man["dim"] == 32 and len(man["shards"]) >= 2
    assert man["model_fingerprint"] == model_fingerprint(tiny_model_dir)
    assert any("200 tickets embedded" in m for m in rep.messages)
    assert not list(run.path.glob(".embeddings.tmp-*"))  # the temp folder was renamed into place
    cfg = index_config(tiny_model_dir, embeddings=str(run.path / "embeddings"), lead_weight=0.5)
    run_index(cfg, run)
    ids = tickets["id"].tolist()
    # the index's own reading (the lead view: the tiny texts have two sentences)
    local = embed_texts(str(tiny_model_dir), tickets["text"].tolist(), 16, lead_weight=0.5)
    np.testing.assert_allclose(index_vectors(run, ids), local, atol=1e-5)
