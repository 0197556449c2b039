"""The one keyword engine: BM25 by SQLite FTS5, for the ticket index and in-memory corpora.

Chosen by measurement against bm25s (docs/search.md, ``bench/keyword_search.py``): on
held-out SeaMonkey duplicate links FTS5 and bm25s give the same MRR@10 (0.480 vs 0.477,
92 queries), on Endava (same category/subcategory as relevant, 500 queries) FTS5 is
ahead (0.470 vs 0.444); English stop-word removal changes neither. FTS5 follows inserts
and deletes in ~0.12 ms a ticket inside the store's transaction, where bm25s must
re-index the whole corpus (1.2 s at 5.4k tickets); its queries are slower (~20 ms
against ~0.6 ms for ticket-long queries), which search and evaluation can afford.

A query is every distinct word of the text (up to 64), quoted and OR-ed; BM25 ranks,
ties by ascending key. :class:`KeywordIndex` holds a corpus in memory by position, for
negative mining and active-learning candidates; the ticket store keeps the same table
in its SQLite file (:mod:`ticketsim.index.store`) and ranks with :func:`rank_sql`.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence

import numpy as np

TOKENIZE = "unicode61 remove_diacritics 2"
MAX_TERMS = 64
TABLE_SQL = f"CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(text, tokenize='{TOKENIZE}');"
_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str, max_terms: int = MAX_TERMS) -> str:
    """An FTS5 MATCH expression: every distinct word of ``text`` quoted, OR-ed (BM25 does the rest)."""
    seen: list[str] = []
    for w in _WORD.findall(text.lower()):
        if w not in seen:
            seen.append(w)
        if len(seen) >= max_terms:
            break
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in seen)


def rank_sql(join: str = "", where: str = "") -> str:
    """The ranking statement (params: match, *where args, limit); higher score is better."""
    return (f"SELECT fts.rowid, -bm25(fts) AS s FROM fts {join} WHERE fts MATCH ?"
            f"{' AND ' + where if where else ''} ORDER BY bm25(fts), fts.rowid LIMIT ?")


class KeywordIndex:
    """A corpus of texts held in an in-memory FTS5 table; keys are positions in ``texts``."""

    name = "bm25"

    def __init__(self, texts: Sequence[str]) -> None:
        self.n = len(texts)
        self.conn = sqlite3.connect(":memory:", check_same_thread=False)
        self.conn.execute(TABLE_SQL)
        self.conn.executemany("INSERT INTO fts (rowid, text) VALUES (?, ?)",
                              ((i, str(t)) for i, t in enumerate(texts)))

    def top(self, text: str, k: int, exclude: int | None = None) -> list[tuple[int, float]]:
        """Best ``k`` (position, BM25 score), the ``exclude`` position left out."""
        match = fts_query(text)
        if not match:
            return []
        where, args = ("fts.rowid != ?", [exclude]) if exclude is not None else ("", [])
        rows = self.conn.execute(rank_sql(where=where), [match, *args, k]).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def scores(self, queries: Sequence[str], limit: int | None = None) -> np.ndarray:
        """``(len(queries), n)`` BM25 scores, 0 where no word matches (negative mining's Scorer);
        with ``limit``, only each query's best ``limit`` matches are filled in."""
        out = np.zeros((len(queries), self.n), dtype=np.float32)
        for i, q in enumerate(queries):
            match = fts_query(q)
            if not match:
                continue
            rows = self.conn.execute(rank_sql(), [match, limit or self.n]).fetchall()
            if rows:
                keys, vals = zip(*rows, strict=True)
                out[i, list(keys)] = vals
        return out

    def ranks(self, queries: list[str], targets: list[int]) -> np.ndarray:
        """1-based keyword rank of ``targets[i]`` among the corpus for ``queries[i]``."""
        s = self.scores(queries)
        own = s[np.arange(len(targets)), targets]
        return (s > own[:, None]).sum(axis=1) + 1

    def close(self) -> None:
        self.conn.close()


class KeywordRows:
    """BM25 score rows of tickets against all tickets, by ticket index (kNN routing).

    Each row holds the query's best ``limit`` matches (others 0): a kNN vote over k
    training tickets only reads the top, and fetching every match made routing evaluation
    the slowest step at desk scale (47,837 Endava tickets: ~48k rows through Python per
    held-out ticket, most of the evaluate stage). The vote is exact while at least k of a
    ticket's best ``limit`` matches are training tickets (k = 10 of 500 here).
    """

    def __init__(self, texts: Sequence[str], limit: int | None = 500) -> None:
        self.texts, self.index, self.limit = list(texts), KeywordIndex(texts), limit

    def __call__(self, query_idx: np.ndarray) -> np.ndarray:
        return self.index.scores([self.texts[int(i)] for i in query_idx], self.limit)
