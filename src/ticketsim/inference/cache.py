"""Embedding cache on disk, keyed by (encoder fingerprint, text hash).

Reruns, the index stage after evaluate, and multi-system evaluation embed the same
tickets with the same model again and again; the cache makes every repeat a lookup.
The fingerprint covers model weights, backend and max_seq_length, so a retrained model,
an int8 graph or a different truncation never reuses stale vectors. One SQLite file
(WAL mode, each insert batch one transaction, so a killed run leaves a consistent
file); its conventional place is ``<run dir>/cache/embeddings.sqlite``.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ticketsim.inference.encoder import Encoder
from ticketsim.progress import NULL, Reporter

CACHE_FILE = "embeddings.sqlite"
_CHUNK = 500  # SQLite parameter limit is far above; keeps statements small


def default_cache_path(run_dir: str | Path) -> Path:
    """Where a run directory keeps its embedding cache (outside the stage folders)."""
    return Path(run_dir) / "cache" / CACHE_FILE


def text_key(text: str) -> bytes:
    """16-byte digest of the exact text (sha256)."""
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


class EmbeddingCache:
    """float32 vectors stored by (fingerprint, text hash) in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # one connection shared by threads (the REST service answers from a thread pool)
        self._db = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (fingerprint TEXT NOT NULL, text BLOB NOT NULL, "
            "vector BLOB NOT NULL, PRIMARY KEY (fingerprint, text)) WITHOUT ROWID")
        self._db.commit()

    def get(self, fingerprint: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """Stored vectors for the keys that are present."""
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for s in range(0, len(keys), _CHUNK):
                part = list(keys[s : s + _CHUNK])
                rows = self._db.execute(
                    f"SELECT text, vector FROM embeddings WHERE fingerprint = ? AND text IN "
                    f"({','.join('?' * len(part))})", [fingerprint, *part]).fetchall()
                for k, v in rows:
                    found[bytes(k)] = np.frombuffer(v, dtype=np.float32)
        return found

    def put(self, fingerprint: str, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store vectors (one transaction)."""
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings (fingerprint, text, vector) VALUES (?, ?, ?)",
                [(fingerprint, k, v.tobytes()) for k, v in zip(keys, vecs, strict=True)])

    def count(self, fingerprint: str | None = None) -> int:
        with self._lock:
            if fingerprint is None:
                return int(self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])
            return int(self._db.execute("SELECT COUNT(*) FROM embeddings WHERE fingerprint = ?",
                                        (fingerprint,)).fetchone()[0])

    def close(self) -> None:
        self._db.close()


class CachedEncoder:
    """An Encoder that answers from the cache and sends only unseen texts to the wrapped encoder."""

    def __init__(self, encoder: Encoder, cache: EmbeddingCache | str | Path) -> None:
        self.encoder = encoder
        self.cache = cache if isinstance(cache, EmbeddingCache) else EmbeddingCache(cache)
        self.fingerprint = encoder.fingerprint
        self.dim = encoder.dim
        self.max_seq_length = encoder.max_seq_length
        self.hits = 0
        self.misses = 0

    def encode(self, texts: Sequence[str], batch_size: int = 64,
               reporter: Reporter = NULL) -> np.ndarray:
        """Cached vectors where present; the rest encoded once each (duplicates too) and stored."""
        keys = [text_key(t) for t in texts]
        found = self.cache.get(self.fingerprint, keys)
        missing: dict[bytes, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in found and k not in missing:
                missing[k] = t
        self.hits += len(texts) - sum(1 for k in keys if k in missing)
        self.misses += len(missing)
        if missing:
            reporter.log(f"embedding cache: {len(texts) - len(missing)} of {len(texts)} texts cached")
            new = self.encoder.encode(list(missing.values()), batch_size=batch_size,
                                      reporter=reporter)
            self.cache.put(self.fingerprint, list(missing), new)
            found.update(zip(missing, new, strict=True))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, k in enumerate(keys):
            out[i] = found[k]
        return out
