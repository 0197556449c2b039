"""The index protocol: what every vector backend does, plus the filter and hit types.

A backend only stores vectors under integer keys and answers nearest-neighbour
queries; ticket ids, metadata, the keyword side and the update journal live in
:class:`ticketsim.index.store.TicketStore`, so every backend gets filters, hybrid
search and crash recovery from one place. Backends: ``usearch`` (the local default,
one file on disk) and ``qdrant`` (a server or cluster when the history outgrows one
machine; its local mode in tests).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ticketsim.errors import TicketsimError
from ticketsim.ids import RESERVED_COLUMNS


def naive_utc(value: datetime | None) -> datetime | None:
    """Stored dates are naive UTC; an aware date is converted to UTC.

    A date within hours of year 1 or 9999 whose offset pushes it past the range of
    ``datetime`` (``0001-01-01T00:00:00+05:00``) is clamped to the first or last
    representable moment instead of raising OverflowError (a 500 in the service before).
    """
    if value is None or value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        ahead = (value.utcoffset() or timedelta(0)) > timedelta(0)
        return datetime.min if ahead else datetime.max


@dataclasses.dataclass
class Filters:
    """Metadata filters shared by dense and keyword search (all optional, combined with AND)."""

    category: list[str] | None = None
    status: list[str] | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    exclude_ids: list[str] | None = None

    def is_empty(self) -> bool:
        return not (self.category or self.status or self.created_from or self.created_to
                    or self.exclude_ids)

    @classmethod
    def coerce(cls, value: Filters | dict[str, Any] | None) -> Filters:
        """Accept a Filters, a plain dict (REST body) or None."""
        if value is None:
            return cls()
        if isinstance(value, Filters):
            return value
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(value) - known
        if unknown:
            raise TicketsimError(f"unknown filter(s) {sorted(unknown)}", field="filters",
                                 hint=f"use {', '.join(sorted(known))}")
        data = dict(value)
        for key in ("category", "status", "exclude_ids"):
            if isinstance(data.get(key), str):
                data[key] = [data[key]]
        for key in ("created_from", "created_to"):
            if isinstance(data.get(key), str):
                try:
                    data[key] = datetime.fromisoformat(data[key])
                except ValueError:
                    raise TicketsimError(f"not an ISO 8601 date: {data[key]!r}", field=key,
                                         hint="e.g. 2024-05-01 or 2024-05-01T12:00:00+02:00") from None
            if isinstance(data.get(key), datetime):
                data[key] = naive_utc(data[key])
        return cls(**data)


# scores a Hit carries only when its mode produced them (left out of its dict when None)
MODE_SCORES = ("keyword", "fused", "rerank")


@dataclasses.dataclass
class Hit:
    """One search result: similarity, calibrated duplicate probability, label and the ticket's columns.

    ``score`` is the cosine similarity to the query in every mode (so ``probability`` and
    ``label`` mean the same thing everywhere); ``keyword`` and ``fused`` are the BM25 and
    RRF scores when that mode produced them. ``label`` is None without thresholds.
    """

    id: str
    score: float
    probability: float | None = None
    label: str | None = None
    short_description: str = ""
    category: str = ""
    subcategory: str = ""
    created: str | None = None
    keyword: float | None = None
    fused: float | None = None
    rerank: float | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Flat dict: the fixed fields, then the carried-through columns under their own names.

        A column never overrides a result field (a ticket added with ``extra: {"score": 1}``
        must not rank or label itself): ingest and the API refuse such names
        (:data:`ticketsim.ids.RESERVED_COLUMNS`), and any that got stored anyway are left out.
        """
        fixed = [f.name for f in dataclasses.fields(self) if f.name != "extra"]
        d = {name: getattr(self, name) for name in fixed}
        for key in MODE_SCORES:
            if d[key] is None:
                del d[key]
        d.update({k: v for k, v in self.extra.items() if k not in fixed and k not in RESERVED_COLUMNS})
        return d


@runtime_checkable
class VectorBackend(Protocol):
    """Vectors under int64 keys, cosine similarity; the store keeps everything else."""

    dim: int
    precision: str
    exact_scores: bool
    """True when returned scores are float32 cosines (else the index re-ranks: index.rescore)."""

    def upsert(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Add or replace the vectors of ``keys`` (unit float32 rows)."""
        ...

    def delete(self, keys: Sequence[int] | np.ndarray) -> None:
        """Remove ``keys``; unknown keys are ignored."""
        ...

    def search(self, query: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (keys, cosine scores) for one unit query, best first; only ``allowed`` keys if given."""
        ...

    def __len__(self) -> int: ...

    def save(self, seq: int) -> None:
        """Persist atomically, remembering the store sequence number the vectors reflect."""
        ...

    def saved_seq(self) -> int:
        """Store sequence number of the last persisted state (-1: nothing persisted)."""
        ...

    def close(self) -> None: ...


def rerank_exact(keys: np.ndarray, vectors: np.ndarray, query: np.ndarray,
                 k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` of ANN candidates ``keys`` by exact cosine (``vectors``: their unit float32 rows).

    Quantised (f16 / i8) distances cap recall (0.87 at 1M tickets for i8); re-ranking a few
    times k candidates by float32 cosine recovers it (index.rescore, bench/search.py).
    """
    scores = vectors @ query
    order = np.argsort(-scores, kind="stable")[:k]
    return keys[order], scores[order]


def truncate(vectors: np.ndarray, dim: int | None) -> np.ndarray:
    """Matryoshka truncation: keep the first ``dim`` dimensions and re-normalise (float32)."""
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim == 1:
        v = v[None, :]
    if dim is not None and dim < v.shape[1]:
        v = v[:, :dim]
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(v / norms, dtype=np.float32)
