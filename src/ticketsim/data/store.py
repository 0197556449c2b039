"""The links store: one SQLite file holding every known link, from every source.

Imported exports, active-learning answers and web-page feedback all land here,
with source, who and when. Rows are only ever appended, so nothing a person said
is lost; a run works on a :meth:`LinksStore.snapshot`, where the newest answer
for a pair wins and disagreements are reported as conflicts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ticketsim.errors import TicketsimError

SCHEMA = """
CREATE TABLE IF NOT EXISTS links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    a TEXT NOT NULL,
    b TEXT NOT NULL,
    label INTEGER NOT NULL CHECK (label IN (0, 1)),
    score REAL,
    kind TEXT NOT NULL DEFAULT 'duplicate',
    source TEXT NOT NULL,
    who TEXT,
    at TEXT NOT NULL,
    CHECK (a < b)
);
CREATE INDEX IF NOT EXISTS links_pair ON links (a, b);
"""

COLUMNS = ["a", "b", "label", "score", "kind", "source", "who", "at"]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def ordered(a: str, b: str) -> tuple[str, str]:
    """Links are undirected: store each pair once, smaller id first."""
    return (a, b) if a <= b else (b, a)


@dataclass
class AddResult:
    added: int = 0
    unchanged: int = 0
    conflicts: list[tuple[str, str, int, int]] = field(default_factory=list)


class LinksStore:
    """Append-only SQLite store of links; safe to share between CLI, service and sessions."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TicketsimError(f"cannot create the links store's folder: {exc.strerror or exc}",
                                 file=self.path, field="data.links_store",
                                 hint="point data.links_store at a writable path") from None
        if self.path.is_dir():
            raise TicketsimError("the links store path is a folder", file=self.path,
                                 field="data.links_store", hint="give a file name, e.g. links.sqlite")
        try:
            with contextlib.closing(self._connect()) as con:
                con.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise TicketsimError(f"not a links store: {exc}", file=self.path,
                                 hint="point data.links_store at a new or existing store file") from None

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite failures (read-only file or folder, full disk, lock held too long) as one clear error."""
        try:
            yield
        except (sqlite3.Error, pd.errors.DatabaseError) as exc:
            raise TicketsimError(f"links store failed: {exc}", file=self.path,
                                 field="data.links_store",
                                 hint="check the file and its folder are writable and not in use "
                                 "by a stuck process") from None

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA busy_timeout=30000")
        return con

    def add(
        self,
        links: Iterable[tuple[str, str, int, float | None, str]],
        *,
        source: str,
        who: str | None = None,
    ) -> AddResult:
        """Append ``(a, b, label, score, kind)`` rows in one transaction.

        A row equal to the pair's newest answer is skipped (re-importing a file is a
        no-op); a different label is appended and reported as a conflict.
        """
        with self._errors():
            return self._add(links, source=source, who=who)

    def _add(self, links: Iterable[tuple[str, str, int, float | None, str]], *, source: str,
             who: str | None) -> AddResult:
        result = AddResult(conflicts=[])
        at = _now()
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            for a, b, label, score, kind in links:
                if a == b:
                    raise TicketsimError(f"self-link {a!r} cannot be stored")
                x, y = ordered(str(a), str(b))
                prev = con.execute(
                    "SELECT label, score, kind FROM links WHERE a=? AND b=? ORDER BY id DESC LIMIT 1",
                    (x, y),
                ).fetchone()
                if prev is not None and (prev[0], prev[1], prev[2]) == (int(label), score, kind):
                    result.unchanged += 1
                    continue
                if prev is not None and prev[0] != int(label):
                    result.conflicts.append((x, y, int(prev[0]), int(label)))
                con.execute(
                    "INSERT INTO links (a, b, label, score, kind, source, who, at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (x, y, int(label), score, kind, source, who, at),
                )
                result.added += 1
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # BEGIN itself may have failed
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()
        return result

    def history(self) -> pd.DataFrame:
        """Every row ever written, oldest first."""
        with self._errors():
            con = self._connect()
            try:
                return pd.read_sql_query(f"SELECT {', '.join(COLUMNS)} FROM links ORDER BY id", con)
            finally:
                con.close()

    def snapshot(self) -> pd.DataFrame:
        """One row per pair: the newest answer wins."""
        with self._errors():
            con = self._connect()
            try:
                return pd.read_sql_query(
                    f"SELECT {', '.join('l.' + c for c in COLUMNS)} FROM links l "
                    "JOIN (SELECT MAX(id) AS id FROM links GROUP BY a, b) m ON l.id = m.id ORDER BY l.id",
                    con,
                )
            finally:
                con.close()

    def conflicts(self) -> pd.DataFrame:
        """Pairs that received different labels over time (for a person to settle)."""
        hist = self.history()
        if hist.empty:
            return hist
        counts = hist.groupby(["a", "b"])["label"].nunique()
        bad = counts[counts > 1].index
        return hist.set_index(["a", "b"]).loc[bad].reset_index() if len(bad) else hist.iloc[0:0]

    def digest(self) -> str:
        """Cheap content hash: changes whenever a row is added (rows are append-only)."""
        with self._errors():
            con = self._connect()
            try:
                n, last = con.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM links").fetchone()
            finally:
                con.close()
            return hashlib.sha256(f"{n}:{last}".encode()).hexdigest()[:16]

    def known_pairs(self) -> set[tuple[str, str]]:
        """Every pair with any answer, in stored order (for 'never ask twice')."""
        with self._errors():
            con = self._connect()
            try:
                return {(a, b) for a, b in con.execute("SELECT DISTINCT a, b FROM links")}
            finally:
                con.close()
