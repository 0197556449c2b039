"""The one retrieval core: every ranking in ticketsim comes from these retrievers.

- :mod:`.base`: the :class:`Retriever` protocol (a query in, ``(key, score)`` best first out)
  and :class:`Query`.
- :mod:`.keyword`: the one keyword engine (SQLite FTS5 BM25), for the ticket index and for
  in-memory corpora (negative mining, active-learning candidates).
- :mod:`.fusion`: the one fusion function (weighted reciprocal rank fusion over a window).
- :mod:`.retrievers`: dense (a model over the ANN index), keyword, hybrid and re-ranked
  (a cross-encoder over the top k of another retriever), built from the ``search`` section.

``evaluate``, ``search``, ``serve``, ``dedup``, active-learning candidates and negative
mining all call these, so the report's numbers are the service's numbers.
"""

from __future__ import annotations

from ticketsim.retrieval.base import MODES, Query, Ranked, Retriever

__all__ = ["MODES", "Query", "Ranked", "Retriever"]
