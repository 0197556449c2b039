"""Qdrant backend: the same vector interface on a Qdrant collection.

Pick it when the history outgrows one machine's memory or several services must
share one index: point ``index.qdrant_url`` at a server or cluster (sharding,
replication, on-disk vectors). Without a URL it runs Qdrant's local mode in the
index folder, which is what the tests use (exact scan; fine up to ~20k tickets).
Needs ``qdrant-client`` (the ``qdrant`` extra). Precision: f32, f16 (Float16
vectors) or i8 (int8 scalar quantization over f32 originals, rescored).
Filters arrive as the key set the ticket store selected (a ``HasId`` condition).
Qdrant persists every operation itself; ``save`` only records the store sequence
number it reflects, so a crash replays idempotent upserts from there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ticketsim.errors import TicketsimError
from ticketsim.index.base import truncate
from ticketsim.rundir import atomic_write_json

SEQ_FILE = "qdrant_seq.json"


class QdrantBackend:
    """Cosine vectors in a Qdrant collection (local folder or server)."""

    name = "qdrant"

    def __init__(self, folder: str | Path, dim: int, precision: str = "f32", *,
                 url: str | None = None, collection: str = "tickets", hnsw_ef: int = 64,
                 exact_below: int = 20000, connectivity: int = 16, expansion_add: int = 128) -> None:
        try:
            from qdrant_client import QdrantClient, models
        except ImportError as exc:  # pragma: no cover - optional extra
            raise TicketsimError("index.backend is qdrant but qdrant-client is not installed",
                                 field="index.backend",
                                 hint="pip install 'ticketsim[qdrant]'") from exc
        self.models = models
        self.folder = Path(folder)
        self.dim = int(dim)
        self.precision = precision
        self.collection = collection
        self.hnsw_ef = int(hnsw_ef)
        self.exact_below = int(exact_below)
        self.url = url
        if url:
            self.client = QdrantClient(url=url, api_key=os.environ.get("QDRANT_API_KEY"))
        else:
            self.client = QdrantClient(path=str(self.folder / "qdrant"))
        if not self.client.collection_exists(collection):
            quant = None
            if precision == "i8":
                quant = models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
                    type=models.ScalarType.INT8, always_ram=True))
            self.client.create_collection(
                collection,
                vectors_config=models.VectorParams(
                    size=self.dim, distance=models.Distance.COSINE,
                    datatype=models.Datatype.FLOAT16 if precision == "f16" else None),
                hnsw_config=models.HnswConfigDiff(m=connectivity, ef_construct=expansion_add),
                quantization_config=quant)

    def __len__(self) -> int:
        return int(self.client.count(self.collection, exact=True).count)

    def upsert(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        if not len(keys):
            return
        vecs = truncate(vectors, self.dim)
        self.client.upload_collection(self.collection, vectors=vecs,
                                      ids=[int(k) for k in keys], wait=True)

    def delete(self, keys: Sequence[int]) -> None:
        if not len(keys):
            return
        self.client.delete(self.collection, points_selector=self.models.PointIdsList(
            points=[int(k) for k in keys]), wait=True)

    def search(self, query: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        m = self.models
        if k <= 0 or (allowed is not None and not len(allowed)):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        flt = None
        if allowed is not None:
            flt = m.Filter(must=[m.HasIdCondition(has_id=[int(a) for a in allowed])])
        exact = allowed is not None and len(allowed) <= self.exact_below
        params = m.SearchParams(hnsw_ef=self.hnsw_ef, exact=exact,
                                quantization=m.QuantizationSearchParams(rescore=True)
                                if self.precision == "i8" else None)
        res = self.client.query_points(self.collection, query=truncate(query, self.dim)[0].tolist(),
                                       query_filter=flt, limit=int(k),
                                       search_params=params if self.url else None,
                                       with_payload=False)
        keys = np.asarray([int(p.id) for p in res.points], dtype=np.int64)
        scores = np.asarray([p.score for p in res.points], dtype=np.float32)
        return keys, scores

    def save(self, seq: int) -> None:
        atomic_write_json(self.folder / SEQ_FILE, {"seq": int(seq), "collection": self.collection})

    def saved_seq(self) -> int:
        try:
            return int(json.loads((self.folder / SEQ_FILE).read_text())["seq"])
        except (OSError, ValueError, KeyError):
            return -1

    def close(self) -> None:
        self.client.close()
