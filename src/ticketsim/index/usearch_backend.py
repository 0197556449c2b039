"""Local ANN backend: a usearch HNSW index in one file, exact search below a size.

Pick it by default: one process, one machine, histories up to a few million tickets
(memory per million at 384 dims: ~1.6 GB f32, ~0.9 GB f16, ~0.5 GB i8, graph included; see
docs/search.md). Needs nothing but ``usearch``. Below ``exact_below`` vectors (or when a
filter leaves fewer candidates than that) it scans exactly, which is both faster and
perfectly accurate at that size. Persistence: ``ann-<seq>.usearch`` snapshots written
to a temp file and renamed; the ticket store replays changes made after a snapshot.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ticketsim.index.base import truncate

DTYPES = {"f32": "f32", "f16": "f16", "i8": "i8"}
PREFIX = "ann-"
SUFFIX = ".usearch"


def _onnxruntime_first() -> None:
    """Load onnxruntime (when installed) before usearch: importing onnxruntime 1.32 after
    usearch 2.26 segfaults the process (both bring their own OpenMP runtime). The torch path
    used to load it first by accident; the ONNX query path (no torch) does not."""
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401


class UsearchBackend:
    """HNSW over cosine with usearch; f32 / f16 / i8 storage."""

    name = "usearch"

    def __init__(self, folder: str | Path, dim: int, precision: str = "f32", *,
                 connectivity: int = 16, expansion_add: int = 128, expansion_search: int = 64,
                 exact_below: int = 20000) -> None:
        _onnxruntime_first()
        from usearch.index import Index

        self.folder = Path(folder)
        self.dim = int(dim)
        self.precision = precision
        self.exact_scores = precision == "f32"  # f16 / i8 distances are approximations
        self.exact_below = int(exact_below)
        self.index = Index(ndim=self.dim, metric="cos", dtype=DTYPES[precision],
                           connectivity=connectivity, expansion_add=expansion_add,
                           expansion_search=expansion_search)
        self._saved = -1
        self.recovered: str | None = None
        snap = self._latest()
        if snap is not None:
            try:
                self.index.load(str(snap[1]))
            except RuntimeError as exc:
                # a damaged snapshot: start empty; TicketIndex replays every vector from the
                # ticket store (which holds them all) and saves a good snapshot over it
                self.recovered = f"{snap[1].name} is unreadable ({exc}); rebuilt from the ticket store"
                self.index = Index(ndim=self.dim, metric="cos", dtype=DTYPES[precision],
                                   connectivity=connectivity, expansion_add=expansion_add,
                                   expansion_search=expansion_search)
            else:
                self._saved = snap[0]
            # usearch defines this setter away from its getter, which mypy reads as read-only
            self.index.expansion_search = expansion_search  # type: ignore[misc]

    def _snapshots(self) -> list[tuple[int, Path]]:
        out = []
        for p in self.folder.glob(f"{PREFIX}*{SUFFIX}"):
            with contextlib.suppress(ValueError):
                out.append((int(p.name[len(PREFIX):-len(SUFFIX)]), p))
        return sorted(out)

    def _latest(self) -> tuple[int, Path] | None:
        snaps = self._snapshots()
        return snaps[-1] if snaps else None

    def __len__(self) -> int:
        return int(self.index.size)

    def upsert(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        if not len(keys):
            return
        present = np.asarray(self.index.contains(keys), dtype=bool).reshape(-1)
        if present.any():
            self.index.remove(keys[present])
        self.index.add(keys, truncate(vectors, self.dim))

    def delete(self, keys: Sequence[int] | np.ndarray) -> None:
        arr = np.asarray(keys, dtype=np.uint64)
        if not len(arr):
            return
        present = np.asarray(self.index.contains(arr), dtype=bool).reshape(-1)
        if present.any():
            self.index.remove(arr[present])

    def search(self, query: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        q = truncate(query, self.dim)[0]
        n = len(self)
        if n == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if allowed is not None:
            if not len(allowed):
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            if len(allowed) <= self.exact_below:
                return self._exact_subset(q, k, allowed)
            allowed_set = set(int(a) for a in allowed)
            fetch = min(n, max(4 * k, 64))
            while True:
                # asking for every vector: an exact scan is cheaper and HNSW may miss some
                keys, scores = self._search(q, fetch, exact=n <= self.exact_below or fetch >= n)
                mask = np.fromiter((int(x) in allowed_set for x in keys), dtype=bool, count=len(keys))
                if mask.sum() >= k or fetch >= n:
                    return keys[mask][:k], scores[mask][:k]
                fetch = min(n, fetch * 4)
        return self._search(q, min(k, n), exact=n <= self.exact_below or k >= n)

    def _search(self, q: np.ndarray, k: int, exact: bool) -> tuple[np.ndarray, np.ndarray]:
        m = self.index.search(q, k, exact=exact)
        return np.asarray(m.keys, dtype=np.int64), (1.0 - np.asarray(m.distances, dtype=np.float32))

    def _exact_subset(self, q: np.ndarray, k: int,
                      allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keys = np.asarray(allowed, dtype=np.uint64)
        present = np.asarray(self.index.contains(keys), dtype=bool).reshape(-1)
        keys = keys[present]
        if not len(keys):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        vecs = np.asarray(self.index.get(keys, dtype="f32"), dtype=np.float32).reshape(len(keys), -1)
        vecs = truncate(vecs, self.dim)
        scores = vecs @ q
        top = np.argsort(-scores, kind="stable")[:k]
        return keys[top].astype(np.int64), scores[top].astype(np.float32)

    def save(self, seq: int) -> None:
        """Write ``ann-<seq>.usearch`` atomically (temp file + rename), then drop older snapshots."""
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / f"{PREFIX}{seq:012d}{SUFFIX}"
        tmp = self.folder / f".{final.name}.{os.getpid()}.tmp"
        self.index.save(str(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
        self._saved = seq
        for s, p in self._snapshots():
            if s < seq:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
        for stale in self.folder.glob(f".{PREFIX}*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()

    def saved_seq(self) -> int:
        return self._saved

    def close(self) -> None:
        return None
