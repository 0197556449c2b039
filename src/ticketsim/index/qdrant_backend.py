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

Rebuilds against a server are atomic through a collection alias: the index stage
(:func:`alias_swap`) builds into a fresh physical collection ``<collection>-<stamp>``
(named in ``meta.json`` as ``qdrant_physical``), and only after the index folder is in
place switches the alias ``<collection>`` to it in one ``update_collection_aliases``
call and drops the old physical collection. A build that fails leaves the alias, and
the previous collection, untouched (its half-built collection is dropped). Queries and
updates go through the alias whenever it points at this index's collection.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ticketsim.errors import TicketsimError
from ticketsim.index.base import truncate
from ticketsim.rundir import atomic_write_json

SEQ_FILE = "qdrant_seq.json"


def _connect(url: str | None, folder: Path | None) -> Any:
    """A client for the server at ``url``, else Qdrant's local mode in ``folder``/qdrant."""
    from qdrant_client import QdrantClient

    if url:
        return QdrantClient(url=url, api_key=os.environ.get("QDRANT_API_KEY"))
    return QdrantClient(path=str(Path(folder or ".") / "qdrant"))


def _physical_of(folder: Path) -> str | None:
    """The physical collection recorded in the index folder's meta.json (None: no alias scheme)."""
    try:
        return json.loads((folder / "meta.json").read_text()).get("qdrant_physical")
    except (OSError, ValueError):
        return None


def alias_target(client: Any, alias: str) -> str | None:
    """The collection ``alias`` points at (None: no such alias)."""
    for a in client.get_aliases().aliases:
        if a.alias_name == alias:
            return a.collection_name
    return None


class QdrantBackend:
    """Cosine vectors in a Qdrant collection (local folder or server)."""

    name = "qdrant"

    def __init__(self, folder: str | Path, dim: int, precision: str = "f32", *,
                 url: str | None = None, collection: str = "tickets", hnsw_ef: int = 64,
                 exact_below: int = 20000, connectivity: int = 16, expansion_add: int = 128) -> None:
        try:
            from qdrant_client import models
        except ImportError as exc:  # pragma: no cover - optional extra
            raise TicketsimError("index.backend is qdrant but qdrant-client is not installed",
                                 field="index.backend",
                                 hint="pip install 'ticketsim[qdrant]'") from exc
        self.models = models
        self.folder = Path(folder)
        self.dim = int(dim)
        self.precision = precision
        # i8 is scalar quantisation over float32 originals that Qdrant rescores itself;
        # Float16 vectors have no float32 originals in Qdrant
        self.exact_scores = precision != "f16"
        self.collection = collection
        self.hnsw_ef = int(hnsw_ef)
        self.exact_below = int(exact_below)
        self.url = url
        self.client = _connect(url, self.folder)
        self.physical = _physical_of(self.folder) if url else None
        self.target = collection  # what every operation names: the alias, or the physical one
        if self.physical is not None and alias_target(self.client, collection) != self.physical:
            self.target = self.physical  # being built, or not yet swapped in
            if self.client.collection_exists(self.physical):
                return
            if (self.folder / SEQ_FILE).exists():
                raise TicketsimError(
                    f"Qdrant collection {self.physical} is gone (a newer build replaced this "
                    f"index)", file=self.folder / "meta.json", field="qdrant_physical",
                    hint="reload the newer index or rerun `ticketsim index`")
        if not self.client.collection_exists(self.target):
            quant = None
            if precision == "i8":
                quant = models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
                    type=models.ScalarType.INT8, always_ram=True))
            self.client.create_collection(
                self.target,
                vectors_config=models.VectorParams(
                    size=self.dim, distance=models.Distance.COSINE,
                    datatype=models.Datatype.FLOAT16 if precision == "f16" else None),
                hnsw_config=models.HnswConfigDiff(m=connectivity, ef_construct=expansion_add),
                quantization_config=quant)

    def __len__(self) -> int:
        return int(self.client.count(self.target, exact=True).count)

    def upsert(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        if not len(keys):
            return
        vecs = truncate(vectors, self.dim)
        self.client.upload_collection(self.target, vectors=vecs,
                                      ids=[int(k) for k in keys], wait=True)

    def delete(self, keys: Sequence[int] | np.ndarray) -> None:
        if not len(keys):
            return
        self.client.delete(self.target, points_selector=self.models.PointIdsList(
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
        res = self.client.query_points(self.target, query=truncate(query, self.dim)[0].tolist(),
                                       query_filter=flt, limit=int(k),
                                       search_params=params if self.url else None,
                                       with_payload=False)
        keys = np.asarray([int(p.id) for p in res.points], dtype=np.int64)
        scores = np.asarray([p.score for p in res.points], dtype=np.float32)
        return keys, scores

    def save(self, seq: int) -> None:
        atomic_write_json(self.folder / SEQ_FILE, {"seq": int(seq), "collection": self.collection,
                                                   "physical": self.physical})

    def saved_seq(self) -> int:
        try:
            return int(json.loads((self.folder / SEQ_FILE).read_text())["seq"])
        except (OSError, ValueError, KeyError):
            return -1

    def close(self) -> None:
        self.client.close()


def new_physical_name(collection: str) -> str:
    """``<collection>-<UTC stamp>-<random>``: one physical collection per build."""
    return f"{collection}-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"


def publish(meta: dict[str, Any]) -> str | None:
    """Point the alias at the build's physical collection in one call; drop the collection it left.

    Returns the dropped collection's name. A collection that carries the alias's own
    name (built before aliases were used) is deleted first, once: that migration is the
    only non-atomic step.
    """
    from qdrant_client import models

    alias, physical = meta["qdrant_collection"], meta["qdrant_physical"]
    client = _connect(meta["qdrant_url"], None)
    try:
        old = alias_target(client, alias)
        ops: list[Any] = []
        if old is not None:
            ops.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
        elif client.collection_exists(alias):
            client.delete_collection(alias)
        ops.append(models.CreateAliasOperation(create_alias=models.CreateAlias(
            collection_name=physical, alias_name=alias)))
        client.update_collection_aliases(change_aliases_operations=ops)
        if old is not None and old != physical:
            client.delete_collection(old)
            return old
        return None
    finally:
        client.close()


def discard(meta: dict[str, Any]) -> None:
    """Drop a failed build's physical collection (best effort: the alias never saw it)."""
    with contextlib.suppress(Exception):
        client = _connect(meta["qdrant_url"], None)
        try:
            if alias_target(client, meta["qdrant_collection"]) != meta["qdrant_physical"]:
                client.delete_collection(meta["qdrant_physical"])
        finally:
            client.close()


@contextlib.contextmanager
def alias_swap(meta: dict[str, Any]) -> Iterator[None]:
    """Wrap an index build: a Qdrant server build goes into a new collection, swapped in at the end.

    Enter it before ``RunDir.stage`` (so the swap happens after the folder is in place):
    it names the physical collection in ``meta`` (``qdrant_physical``), drops it when the
    build fails, and points the alias at it when the build succeeded. Other backends and
    Qdrant's local mode (whose files live in the index folder, renamed into place) pass
    through untouched.
    """
    if meta.get("backend") != "qdrant" or not meta.get("qdrant_url"):
        yield
        return
    meta["qdrant_physical"] = new_physical_name(meta["qdrant_collection"])
    try:
        yield
    except BaseException:
        discard(meta)
        raise
    publish(meta)
