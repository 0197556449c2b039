"""Candidate pairs for active learning: retrieved neighbours, never random pairs.

Almost every random pair of tickets is obviously unrelated, so asking about one
teaches nothing. Candidates are each anchor ticket's nearest tickets under the
current model (``label.candidates_k``) plus its top BM25 tickets
(``label.keyword_k``, the keyword engine search uses: :mod:`ticketsim.retrieval.keyword`), minus every pair the links store already holds. Each pair
carries what the strategies need: cosine score, calibrated duplicate probability
(from ``evaluate/thresholds.json``), the pair's exact rank under the model and under
BM25 as seen from the anchor, and the anchor's category.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ticketsim.config import Config, LabelConfig
from ticketsim.data.store import LinksStore, ordered
from ticketsim.errors import TicketsimError
from ticketsim.index.search import Searcher
from ticketsim.progress import NULL, Reporter
from ticketsim.retrieval.keyword import KeywordIndex
from ticketsim.rundir import RunDir

PAIR_COLUMNS = ["a", "b", "anchor", "score", "probability", "dense_rank", "keyword_rank", "group"]


@dataclasses.dataclass
class CandidatePool:
    """Candidate pairs plus the context strategies need (tickets, vectors, decision point)."""

    pairs: pd.DataFrame
    tickets: pd.DataFrame
    vectors: np.ndarray
    decision_probability: float | None = None
    """Calibrated probability at the duplicate threshold (None: no thresholds for this model)."""

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def has_probability(self) -> bool:
        return self.decision_probability is not None and self.pairs["probability"].notna().all()


def _group_labels(tickets: pd.DataFrame) -> np.ndarray | None:
    """category/subcategory per ticket, or None when the tickets carry no categories."""
    cat = tickets.get("category")
    if cat is None:
        return None
    cat = cat.fillna("").astype(str)
    sub = tickets.get("subcategory")
    sub = sub.fillna("").astype(str) if sub is not None else pd.Series("", index=tickets.index)
    if (cat == "").all():
        return None
    return (cat + "/" + sub).to_numpy()


def _exact_ranks(scores: np.ndarray, self_idx: int) -> np.ndarray:
    """1-based rank of every ticket in one anchor's ranking (the anchor itself last)."""
    s = scores.astype(np.float64).copy()
    s[self_idx] = -np.inf
    order = np.argsort(-s, kind="stable")
    ranks = np.empty(len(s), dtype=np.int64)
    ranks[order] = np.arange(1, len(s) + 1)
    return ranks


class CandidateGenerator:
    """Builds the candidate pool from ticket texts and (normalised) model vectors."""

    def __init__(self, candidates_k: int = 10, keyword_k: int = 10, anchors: int = 2000,
                 seed: int = 0) -> None:
        self.candidates_k = candidates_k
        self.keyword_k = keyword_k
        self.anchors = anchors
        self.seed = seed

    @classmethod
    def from_config(cls, cfg: LabelConfig) -> CandidateGenerator:
        return cls(cfg.candidates_k, cfg.keyword_k, cfg.anchors, cfg.seed)

    def generate(
        self,
        tickets: pd.DataFrame,
        vectors: np.ndarray,
        *,
        exclude: Iterable[tuple[str, str]] = (),
        allowed_ids: set[str] | None = None,
        thresholds: Any = None,
        reporter: Reporter = NULL,
    ) -> CandidatePool:
        """Pairs (anchor, neighbour) over ``tickets`` (``id``, ``text``, optional category).

        ``exclude``: pairs already answered (any order); ``allowed_ids``: both ends must be
        in it (e.g. only the training period); ``thresholds``: a
        :class:`ticketsim.thresholds.Thresholds` giving the calibrated probability.
        """
        tickets = tickets.reset_index(drop=True)
        ids = tickets["id"].astype(str).to_numpy()
        if len(ids) != len(vectors):
            raise TicketsimError(f"{len(ids)} tickets but {len(vectors)} vectors")
        vec = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vec, axis=1, keepdims=True)
        vec /= np.where(norms == 0, 1.0, norms)
        allowed = np.ones(len(ids), dtype=bool) if allowed_ids is None else np.isin(
            ids, list(allowed_ids))
        pool_idx = np.flatnonzero(allowed)
        rng = np.random.default_rng(self.seed)
        anchors = pool_idx if not self.anchors or len(pool_idx) <= self.anchors else np.sort(
            rng.choice(pool_idx, self.anchors, replace=False))
        skip = {ordered(str(a), str(b)) for a, b in exclude}
        groups = _group_labels(tickets)
        texts = tickets["text"].fillna("").astype(str).tolist()
        bm25 = KeywordIndex(texts) if self.keyword_k else None

        rows: list[tuple[Any, ...]] = []
        seen: set[tuple[str, str]] = set()
        for i in reporter.track(anchors, total=len(anchors), description="candidate pairs"):
            dense = vec @ vec[i]
            d_rank = _exact_ranks(np.where(allowed, dense, -np.inf), i)
            if bm25 is not None:
                kw = bm25.scores([texts[i]])[0]
                k_rank = _exact_ranks(np.where(allowed, kw, -np.inf), i)
            else:
                k_rank = np.full(len(ids), len(ids), dtype=np.int64)
            near = np.flatnonzero(allowed & ((d_rank <= self.candidates_k)
                                             | (k_rank <= self.keyword_k)))
            for j in near:
                if j == i:
                    continue
                pair = ordered(ids[i], ids[j])
                if pair in skip or pair in seen:
                    continue
                seen.add(pair)
                rows.append((pair[0], pair[1], ids[i], float(dense[j]), int(d_rank[j]),
                             int(k_rank[j]), groups[i] if groups is not None else ""))
        pairs = pd.DataFrame(rows, columns=["a", "b", "anchor", "score", "dense_rank",
                                            "keyword_rank", "group"])
        decision = None
        if thresholds is not None:
            z = thresholds.calib_a * pairs["score"].to_numpy() + thresholds.calib_b
            pairs["probability"] = 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
            decision = float(thresholds.probability(thresholds.duplicate))
        else:
            pairs["probability"] = np.nan
        reporter.log(f"label: {len(pairs)} candidate pairs from {len(anchors)} anchor tickets "
                     f"({len(skip)} known pairs excluded)")
        return CandidatePool(pairs[PAIR_COLUMNS], tickets, vec, decision)


def index_tickets(cfg: Config, run: RunDir, reporter: Reporter = NULL) -> tuple[pd.DataFrame, np.ndarray, Any]:
    """Tickets (records + text), their vectors and the thresholds of a run's index (Searcher)."""
    searcher = Searcher(run, cfg, reporter=reporter)
    try:
        store = searcher.index.store
        keys, vecs = [], []
        for k, v in store.iter_vectors(searcher.index.dim):
            keys.append(k)
            vecs.append(v)
        if not keys:
            raise TicketsimError(f"{run.path}: the index holds no tickets",
                                 hint=f"run `ticketsim index --run-dir {run.path}` first")
        all_keys = np.concatenate(keys)
        records = store.records(all_keys.tolist())
        texts = store.texts(all_keys.tolist())
        tickets = pd.DataFrame([{**records[int(k)], "text": texts.get(int(k), "")}
                                for k in all_keys])
        return tickets, np.concatenate(vecs), searcher.thresholds
    finally:
        searcher.close()


def pool_for_run(cfg: Config, run: RunDir, *, exclude: Iterable[tuple[str, str]] = (),
                 allowed_ids: set[str] | None = None, reporter: Reporter = NULL) -> CandidatePool:
    """Candidates from a run's index (the Searcher's vectors, model and thresholds).

    Pairs already in the links store (``data.links_store``) and ``exclude`` are left out;
    ``allowed_ids`` restricts both ends (the simulation keeps to the training period).
    """
    tickets, vectors, thresholds = index_tickets(cfg, run, reporter)
    if thresholds is None:
        reporter.log(f"label: no thresholds for this model (run `ticketsim evaluate --run-dir {run.path}`"
                     "; with no links yet there are none); "
                     "uncertainty falls back to the median similarity")
    known = LinksStore(cfg.data.links_store).known_pairs()
    gen = CandidateGenerator.from_config(cfg.label)
    return gen.generate(tickets, vectors, exclude=[*known, *exclude], allowed_ids=allowed_ids,
                        thresholds=thresholds, reporter=reporter)
