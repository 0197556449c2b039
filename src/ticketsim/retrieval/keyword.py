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
import unicodedata
from collections.abc import Sequence

import numpy as np

TOKENIZE = "unicode61 remove_diacritics 2"
MAX_TERMS = 64
TABLE_SQL = f"CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(text, tokenize='{TOKENIZE}');"
FTS5_K1, FTS5_B = 1.2, 0.75  # SQLite FTS5's bm25() constants
_FTS5_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)  # unicode61: letters and digits; '_' separates


def fts5_tokens(text: str) -> list[str]:
    """``text`` split the way FTS5's ``unicode61 remove_diacritics 2`` tokenizer splits it."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", str(text).lower())
                     if not unicodedata.combining(c))
    return _FTS5_TOKEN.findall(folded)


def fts_query(text: str, max_terms: int = MAX_TERMS) -> str:
    """An FTS5 MATCH expression: the first ``max_terms`` distinct words of ``text`` (split as
    the tokenizer splits them, so each is one term), quoted, OR-ed (BM25 does the rest)."""
    words = list(dict.fromkeys(fts5_tokens(text)))[:max_terms]
    return " OR ".join('"' + w + '"' for w in words)


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

    Bulk scoring of thousands of queries against one fixed corpus is what bm25s does well
    (scores precomputed in a sparse matrix): at 47,837 Endava tickets a row costs ~0.6 ms
    against ~84 ms through FTS5, whose per-query cost made routing evaluation the slowest
    step at desk scale. It is set up to rank like :class:`KeywordIndex` (FTS5's tokenizer,
    k1 and b, distinct query words, Robertson's IDF; tested against it); the one difference
    is a word in over half the tickets, which weighs 0 here and 1e-6 in FTS5.

    Each row holds the query's best ``limit`` matches (others 0): a kNN vote over k
    training tickets only reads the top. The vote is exact while at least k of a ticket's
    best ``limit`` matches are training tickets (k = 10 of 500 here).
    """

    def __init__(self, texts: Sequence[str], limit: int | None = 500) -> None:
        import bm25s

        self.limit = limit
        self.tokens = [fts5_tokens(t) for t in texts]
        self.n = len(self.tokens)
        self.bm25 = bm25s.BM25(k1=FTS5_K1, b=FTS5_B, method="robertson")
        self.bm25.index(self.tokens, show_progress=False)
        self.vocab: dict[str, int] = self.bm25.vocab_dict

    def _query_ids(self, i: int) -> list[int]:
        words = list(dict.fromkeys(self.tokens[i]))[:MAX_TERMS]  # distinct, as fts_query
        return [self.vocab[w] for w in words if w in self.vocab]

    def __call__(self, query_idx: np.ndarray) -> np.ndarray:
        out = np.zeros((len(query_idx), self.n), dtype=np.float32)
        for row, i in enumerate(query_idx):
            ids = self._query_ids(int(i))
            if not ids:
                continue
            s = self.bm25.get_scores_from_ids(ids) * (FTS5_K1 + 1)  # bm25s leaves out k1 + 1
            if self.limit is not None and self.limit < self.n:
                keep = np.argpartition(-s, self.limit - 1)[: self.limit]
                keep = keep[s[keep] > 0]
                out[row, keep] = s[keep]
            else:
                out[row] = s
        return out
