"""BM25 negatives: tickets keyword search ranks high for the anchor, yet not related to it.

Pick it by default: it is fast (no model), and its negatives are exactly the
confusions a desk's keyword search makes ("outlook password" vs "vpn password"),
the ones a fine-tuned model must learn to tell apart. Needs only ticket texts (bm25s).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class BM25Miner:
    """Scores corpus tickets with BM25 (bm25s, English stop words removed)."""

    name = "bm25"

    def __init__(self, texts: Sequence[str]) -> None:
        import bm25s

        self.n = len(texts)
        tokens = bm25s.tokenize(list(texts), stopwords="en", return_ids=False, show_progress=False)
        self._retriever = bm25s.BM25()
        self._retriever.index([[t for t in doc if t] or [""] for doc in tokens],
                              show_progress=False)

    def scores(self, queries: list[str]) -> np.ndarray:
        import bm25s

        toks = bm25s.tokenize(list(queries), stopwords="en", return_ids=False, show_progress=False)
        out = np.zeros((len(queries), self.n), dtype=np.float32)
        for i, q in enumerate(toks):
            q = [t for t in q if t]
            if q:
                out[i] = self._retriever.get_scores(q)
        return out

    def ranks(self, queries: list[str], targets: list[int]) -> np.ndarray:
        """1-based BM25 rank of ``targets[i]`` among the corpus for ``queries[i]``."""
        s = self.scores(queries)
        own = s[np.arange(len(targets)), targets]
        return (s > own[:, None]).sum(axis=1) + 1
