"""One live ticket index: the SQLite ticket store plus a vector backend, kept in step.

Every change commits to the store first (atomic, journaled by sequence number) and
then reaches the vector backend; the backend is persisted every ``save_every``
changes and on close. Opening an index replays whatever the store committed after
the backend's last snapshot, so a writer killed at any point leaves an index that
loads and answers with every acknowledged change.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ticketsim.errors import TicketsimError
from ticketsim.index.base import Filters, VectorBackend, rerank_exact, truncate
from ticketsim.index.qdrant_backend import QdrantBackend
from ticketsim.index.store import FILE as STORE_FILE
from ticketsim.index.store import TicketStore
from ticketsim.index.usearch_backend import UsearchBackend
from ticketsim.rundir import atomic_write_json

META = "meta.json"


def make_backend(folder: Path, meta: dict[str, Any], options: dict[str, Any]) -> VectorBackend:
    """The backend named in ``meta`` (build-time settings) with query-time ``options`` applied."""
    name = meta["backend"]
    if name == "usearch":
        return UsearchBackend(
            folder, meta["dim"], meta["precision"], connectivity=meta["connectivity"],
            expansion_add=meta["expansion_add"],
            expansion_search=options.get("expansion_search", meta["expansion_search"]),
            exact_below=options.get("exact_below", meta["exact_below"]))
    if name == "qdrant":
        return QdrantBackend(
            folder, meta["dim"], meta["precision"], url=options.get("qdrant_url", meta.get("qdrant_url")),
            collection=meta["qdrant_collection"], hnsw_ef=options.get("expansion_search",
                                                                      meta["expansion_search"]),
            exact_below=options.get("exact_below", meta["exact_below"]),
            connectivity=meta["connectivity"], expansion_add=meta["expansion_add"])
    raise TicketsimError(f"unknown index backend '{name}'", file=folder / META,
                         hint="use usearch or qdrant")


class TicketIndex:
    """Ticket store + vector backend behind one lock; the unit search and updates work on."""

    def __init__(self, folder: str | Path, meta: dict[str, Any], *, save_every: int = 1000,
                 options: dict[str, Any] | None = None) -> None:
        self.folder = Path(folder)
        self.meta = meta
        self.save_every = int(save_every)
        self.lock = threading.RLock()
        try:
            self.store = TicketStore(self.folder / STORE_FILE,
                                     status_column=meta.get("status_column", "status"))
        except sqlite3.DatabaseError as exc:
            raise TicketsimError(f"the index's ticket store is damaged: {exc}",
                                 file=self.folder / STORE_FILE,
                                 hint="rebuild it with `ticketsim index --force`") from None
        self.backend = make_backend(self.folder, meta, options or {})
        self.dim = int(meta["dim"])
        # backends with approximate scores (usearch f16 / i8, Qdrant f16): re-rank
        # rescore x k candidates by exact float32 cosine from the store
        self.rescore = 1 if self.backend.exact_scores else int((options or {}).get("rescore", 1))
        self._unsaved = 0
        self.replayed = self._replay()

    @classmethod
    def create(cls, folder: str | Path, meta: dict[str, Any], *, save_every: int = 1000) -> TicketIndex:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(folder / META, meta)
        return cls(folder, meta, save_every=save_every)

    @classmethod
    def open(cls, folder: str | Path, *, save_every: int = 1000,
             options: dict[str, Any] | None = None) -> TicketIndex:
        folder = Path(folder)
        try:
            meta = json.loads((folder / META).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise TicketsimError(f"cannot read the index: {exc}", file=folder / META,
                                 hint="run `ticketsim index`") from None
        if not isinstance(meta, dict) or not {"backend", "dim", "precision"} <= set(meta):
            raise TicketsimError("not an index description (backend, dim, precision missing)",
                                 file=folder / META, hint="rebuild it with `ticketsim index --force`")
        return cls(folder, meta, save_every=save_every, options=options)

    def _replay(self) -> int:
        """Bring the backend up to the store's sequence number; returns the rows replayed."""
        saved, seq = self.backend.saved_seq(), self.store.seq()
        if saved >= seq:
            return 0
        live, dead = self.store.changes_since(saved)
        self.backend.delete(dead)
        for i in range(0, len(live), 10000):
            chunk = live[i:i + 10000]
            self.backend.upsert(np.asarray(chunk, dtype=np.int64), self.store.vectors(chunk, self.dim))
        self.backend.save(seq)
        return len(live) + len(dead)

    def __len__(self) -> int:
        return len(self.store)

    def upsert(self, records: Sequence[dict[str, Any]], vectors: np.ndarray) -> int:
        """Add or replace tickets (records with ``id`` and ``text``); returns the sequence number."""
        vectors = truncate(vectors, self.dim)
        with self.lock:
            keys, seq = self.store.upsert(records, vectors)
            self.backend.upsert(keys, vectors)
            self._after_change(len(keys), seq)
        return seq

    def delete(self, ids: Sequence[str]) -> int:
        """Delete tickets by id; returns how many existed."""
        with self.lock:
            keys, seq = self.store.delete(ids)
            self.backend.delete(keys)
            self._after_change(len(keys), seq)
        return len(keys)

    def _after_change(self, n: int, seq: int) -> None:
        self._unsaved += n
        if self._unsaved >= self.save_every:
            self.flush(seq)

    def flush(self, seq: int | None = None) -> None:
        """Persist the backend at the store's current sequence number."""
        with self.lock:
            self.backend.save(self.store.seq() if seq is None else seq)
            self._unsaved = 0

    def dense(self, query: np.ndarray, k: int, filters: Filters | None = None,
              allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top ``k`` (key, cosine) for a query vector under ``filters`` (or precomputed
        ``allowed`` keys, for callers asking many queries under one filter)."""
        filters = filters or Filters()
        q = truncate(query, self.dim)
        with self.lock:
            if allowed is None:
                allowed = self.store.filter_keys(filters)
            keys, scores = self.backend.search(q, k * self.rescore, allowed)
            if self.rescore > 1 and len(keys):  # the store keeps the float32 vectors
                exact = truncate(self.store.vectors(keys.tolist(), self.dim), None)
                keys, scores = rerank_exact(keys, exact, q[0], k)
        return [(int(a), float(b)) for a, b in zip(keys, scores, strict=True)]

    def keyword(self, text: str, k: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        with self.lock:
            return self.store.keyword(text, k, filters)

    def close(self) -> None:
        with self.lock:
            if self._unsaved:
                self.flush()
            self.backend.close()
            self.store.close()
