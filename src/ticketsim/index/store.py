"""The ticket store: ids, metadata, the keyword index and the update journal in one SQLite file.

Why SQLite: its transactions are atomic and survive a killed writer (WAL), it filters
metadata with SQL, and its FTS5 table is the project's one keyword engine
(:mod:`ticketsim.retrieval.keyword`): BM25 that follows inserts and deletes incrementally. Every change bumps a
sequence number stored on the changed row (deleted tickets stay as tombstones), so a
vector backend persisted at sequence S is brought up to date by replaying the rows
changed after S: the store is the journal, the ANN file a snapshot.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ticketsim.index.base import Filters
from ticketsim.retrieval.keyword import TABLE_SQL, fts_query, rank_sql

FILE = "tickets.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tickets (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    seq INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    category TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT '',
    created TEXT,
    record TEXT NOT NULL,
    vector BLOB
);
CREATE INDEX IF NOT EXISTS tickets_seq ON tickets(seq);
""" + TABLE_SQL


class TicketStore:
    """SQLite file of tickets (metadata + float32 vector + text) with an FTS5 keyword index."""

    def __init__(self, path: str | Path, status_column: str = "status") -> None:
        self.path = Path(path)
        self.status_column = status_column
        self._lock = threading.RLock()
        self.conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def seq(self) -> int:
        """Sequence number of the last committed change (0: empty)."""
        return int(self.get_meta("seq", 0))

    # ------------------------------------------------------------------ writes
    def upsert(self, records: Sequence[dict[str, Any]], vectors: np.ndarray) -> tuple[np.ndarray, int]:
        """Add or replace tickets in one transaction; returns their keys and the new sequence number.

        ``records`` carry ``id`` and ``text`` plus any metadata; a ticket id seen before
        (even deleted) keeps its key.
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        keys = np.zeros(len(records), dtype=np.int64)
        with self._lock:
            cur = self.conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                seq = self.seq() + 1
                next_key = (cur.execute("SELECT COALESCE(MAX(key), -1) FROM tickets").fetchone()[0]) + 1
                for i, rec in enumerate(records):
                    tid = str(rec["id"])
                    row = cur.execute("SELECT key FROM tickets WHERE id=?", (tid,)).fetchone()
                    if row is None:
                        key, next_key = next_key, next_key + 1
                    else:
                        key = int(row[0])
                        cur.execute("DELETE FROM fts WHERE rowid=?", (key,))
                    body = {k: v for k, v in rec.items() if k != "text"}
                    cur.execute(
                        "INSERT OR REPLACE INTO tickets (key, id, seq, deleted, category, status, "
                        "created, record, vector) VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?)",
                        (key, tid, seq, str(rec.get("category") or ""),
                         str(rec.get(self.status_column) or ""), rec.get("created") or None,
                         json.dumps(body, default=str), vectors[i].tobytes()))
                    cur.execute("INSERT INTO fts (rowid, text) VALUES (?, ?)", (key, str(rec["text"])))
                    keys[i] = key
                cur.execute("INSERT OR REPLACE INTO meta VALUES ('seq', ?)", (json.dumps(seq),))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return keys, seq

    def delete(self, ids: Sequence[str]) -> tuple[np.ndarray, int]:
        """Tombstone tickets (vector and keyword entry dropped); unknown ids are ignored."""
        keys: list[int] = []
        with self._lock:
            cur = self.conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                seq = self.seq() + 1
                for tid in ids:
                    row = cur.execute("SELECT key FROM tickets WHERE id=? AND deleted=0",
                                      (str(tid),)).fetchone()
                    if row is None:
                        continue
                    keys.append(int(row[0]))
                    cur.execute("UPDATE tickets SET deleted=1, seq=?, vector=NULL WHERE key=?",
                                (seq, row[0]))
                    cur.execute("DELETE FROM fts WHERE rowid=?", (row[0],))
                cur.execute("INSERT OR REPLACE INTO meta VALUES ('seq', ?)", (json.dumps(seq),))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return np.asarray(keys, dtype=np.int64), seq

    # ------------------------------------------------------------------ reads
    def __len__(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM tickets WHERE deleted=0").fetchone()[0])

    def key_of(self, ticket_id: str) -> int | None:
        row = self.conn.execute("SELECT key FROM tickets WHERE id=? AND deleted=0",
                                (str(ticket_id),)).fetchone()
        return int(row[0]) if row else None

    def _by_key(self, sql: str, keys: Sequence[int]) -> Iterator[tuple[int, Any]]:
        """(key, value) rows of ``sql`` (a SELECT of two columns ending in ``IN ({q})``) for
        ``keys``, 900 at a time (SQLite's bound-parameter limit)."""
        for chunk in _chunks([int(k) for k in keys], 900):
            for key, value in self.conn.execute(sql.format(q=",".join("?" * len(chunk))), chunk):
                yield int(key), value

    def vectors(self, keys: Sequence[int], dim: int) -> np.ndarray:
        """Stored float32 vectors of live ``keys`` in the given order (zeros for missing)."""
        out = np.zeros((len(keys), dim), dtype=np.float32)
        pos = {int(k): i for i, k in enumerate(keys)}
        for key, blob in self._by_key(
                "SELECT key, vector FROM tickets WHERE deleted=0 AND key IN ({q})", list(pos)):
            out[pos[key]] = np.frombuffer(blob, dtype=np.float32)[:dim]
        return out

    def records(self, keys: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Ticket records (everything but the text) of live keys."""
        return {key: json.loads(rec) for key, rec in self._by_key(
            "SELECT key, record FROM tickets WHERE deleted=0 AND key IN ({q})", keys)}

    def seqs(self, keys: Sequence[int]) -> dict[int, int]:
        """The sequence number of each live key's last change."""
        return {key: int(seq) for key, seq in self._by_key(
            "SELECT key, seq FROM tickets WHERE deleted=0 AND key IN ({q})", keys)}

    def text(self, key: int) -> str | None:
        row = self.conn.execute("SELECT text FROM fts WHERE rowid=?", (int(key),)).fetchone()
        return row[0] if row else None

    def texts(self, keys: Sequence[int]) -> dict[int, str]:
        return dict(self._by_key("SELECT rowid, text FROM fts WHERE rowid IN ({q})", keys))

    def changes_since(self, seq: int) -> tuple[list[int], list[int]]:
        """(live keys, deleted keys) changed after sequence ``seq``: what a stale snapshot replays."""
        live: list[int] = []
        dead: list[int] = []
        for key, deleted in self.conn.execute("SELECT key, deleted FROM tickets WHERE seq > ?", (seq,)):
            (dead if deleted else live).append(int(key))
        return live, dead

    def iter_vectors(self, dim: int, batch: int = 10000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All live (keys, vectors) in key order, ``batch`` rows at a time."""
        last = -1
        while True:
            rows = self.conn.execute(
                "SELECT key, vector FROM tickets WHERE deleted=0 AND key > ? ORDER BY key LIMIT ?",
                (last, batch)).fetchall()
            if not rows:
                return
            keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vecs = np.stack([np.frombuffer(r[1], dtype=np.float32)[:dim] for r in rows])
            yield keys, vecs
            last = int(keys[-1])

    def _where(self, filters: Filters, alias: str = "t") -> tuple[str, list[Any]]:
        clauses, args = [f"{alias}.deleted=0"], []
        # category and status match case-insensitively: 'open' finds 'Open' (issue 17)
        if filters.category:
            clauses.append(f"lower({alias}.category) IN ({','.join('?' * len(filters.category))})")
            args += [str(v).lower() for v in filters.category]
        if filters.status:
            clauses.append(f"lower({alias}.status) IN ({','.join('?' * len(filters.status))})")
            args += [str(v).lower() for v in filters.status]
        if filters.created_from:
            clauses.append(f"{alias}.created >= ?")
            args.append(filters.created_from.isoformat())
        if filters.created_to:
            clauses.append(f"{alias}.created < ?")
            args.append(filters.created_to.isoformat())
        if filters.exclude_ids:
            clauses.append(f"{alias}.id NOT IN ({','.join('?' * len(filters.exclude_ids))})")
            args += [str(i) for i in filters.exclude_ids]
        return " AND ".join(clauses), args

    def values(self, column: str) -> list[str]:
        """Distinct non-empty values of ``category`` or ``status`` among live tickets."""
        if column not in ("category", "status"):
            raise ValueError(column)
        rows = self.conn.execute(f"SELECT DISTINCT {column} FROM tickets WHERE deleted=0 AND "
                                 f"{column} != '' ORDER BY {column}").fetchall()
        return [str(r[0]) for r in rows]

    def unmatched_filters(self, filters: Filters) -> list[str]:
        """One line per category / status filter value that no live ticket has, naming the
        values that exist (a silent empty result looks like 'no similar ticket')."""
        out = []
        for column, wanted in (("category", filters.category), ("status", filters.status)):
            if not wanted:
                continue
            have = self.values(column)
            lower = {v.lower() for v in have}
            missing = [w for w in wanted if str(w).lower() not in lower]
            if missing:
                shown = ", ".join(have[:30]) + (f", ... ({len(have)} in all)" if len(have) > 30
                                                 else "")
                out.append(f"no ticket has {column} {', '.join(repr(m) for m in missing)}; "
                           f"{column} values: {shown or '(none)'}")
        return out

    def filter_keys(self, filters: Filters) -> np.ndarray | None:
        """Keys of live tickets passing ``filters`` (None when there is nothing to filter)."""
        if filters.is_empty():
            return None
        where, args = self._where(filters)
        rows = self.conn.execute(f"SELECT t.key FROM tickets t WHERE {where}", args).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def keyword(self, text: str, k: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        """Top ``k`` (key, BM25 score; higher is better, ties by key) by FTS5 over the ticket texts."""
        match = fts_query(text)
        if not match:
            return []
        where, args = self._where(filters or Filters())
        rows = self.conn.execute(rank_sql("JOIN tickets t ON t.key = fts.rowid", where),
                                 [match, *args, k]).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def close(self) -> None:
        with self._lock:
            self.conn.close()


def _chunks(items: list[Any], n: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]
