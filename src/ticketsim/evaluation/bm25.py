"""BM25 keyword baseline (bm25s): what a desk already has in its ticket tool's search box.

Pick it always: a fine-tuned model that does not beat BM25 on held-out links is not
worth serving. Needs only the ticket texts; English stop words are removed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class BM25Scorer:
    """Scores every ticket against query tickets (their own text is the query)."""

    name = "bm25"

    def __init__(self, texts: Sequence[str]) -> None:
        import bm25s

        self._tokens = bm25s.tokenize(list(texts), stopwords="en", return_ids=False,
                                      show_progress=False)
        self._tokens = [[t for t in doc if t] for doc in self._tokens]
        self._retriever = bm25s.BM25()
        self._retriever.index([doc or [""] for doc in self._tokens], show_progress=False)
        self.n = len(texts)

    def query_scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every ticket for a tokenised query (zeros for an empty query)."""
        if not tokens:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)

    def __call__(self, query_idx: np.ndarray) -> np.ndarray:
        return np.stack([self.query_scores(self._tokens[int(i)]) for i in query_idx])
