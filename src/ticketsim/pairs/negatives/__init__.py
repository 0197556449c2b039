"""Hard-negative mining: one scorer module per strategy, one selection rule for all.

A strategy only says how strongly each training ticket matches an anchor
(:class:`Scorer`); :func:`select_negatives` then applies what sentence-transformers'
``mine_hard_negatives`` lacks for tickets: per-anchor exclusion of the anchor's
category, of its linked cluster and of everything it is linked to, on top of the
usual rank window (``range_min``..``range_max``), relative margin against false
negatives, absolute maximum score, and top/random sampling. ``mine_hard_negatives``
itself only drops candidates whose text equals the row's positive and counts excluded
candidates inside its rank window, so it cannot express these rules.
The ``random`` strategy has no scorer: :func:`mine` with ``scorer=None`` draws uniformly
from the eligible tickets (the control of a mined-vs-random ablation).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Protocol

import numpy as np
import pandas as pd

from ticketsim.config import NegativesConfig
from ticketsim.pairs.text import normalise
from ticketsim.progress import NULL, Reporter


class Scorer(Protocol):
    """Scores every corpus ticket against query texts (higher: more similar)."""

    name: str

    def scores(self, queries: list[str]) -> np.ndarray:
        """``(len(queries), n_corpus)`` scores."""
        ...


class Corpus:
    """The tickets negatives are drawn from (training tickets only), with what exclusion needs."""

    def __init__(self, tickets: pd.DataFrame, clusters: dict[str, int],
                 linked: dict[str, set[str]]) -> None:
        self.ids = tickets["id"].astype(str).tolist()
        self.texts = tickets["text"].fillna("").astype(str).tolist()
        self.index = {t: i for i, t in enumerate(self.ids)}
        self.category = tickets["category"].fillna("").astype(str).to_numpy()
        self.cluster = np.array([clusters.get(t, -1 - i) for i, t in enumerate(self.ids)])
        self.linked = linked
        self.norm = np.array([normalise(t) for t in self.texts], dtype=object)

    def __len__(self) -> int:
        return len(self.ids)

    def eligible(self, anchor_id: str, anchor_category: str, exclude: set[str],
                 cfg: NegativesConfig, avoid_texts: set[str]) -> np.ndarray:
        """Boolean mask of corpus tickets allowed as negatives of this anchor."""
        mask = np.ones(len(self.ids), dtype=bool)
        for t in exclude | {anchor_id} | self.linked.get(anchor_id, set()):
            i = self.index.get(t)
            if i is not None:
                mask[i] = False
        if cfg.exclude_same_category and anchor_category:
            mask &= self.category != anchor_category
        if cfg.exclude_same_cluster and anchor_id in self.index:
            mask &= self.cluster != self.cluster[self.index[anchor_id]]
        if avoid_texts:
            mask &= ~np.isin(self.norm, list(avoid_texts))
        return mask


def select(scores: np.ndarray, mask: np.ndarray, pos_score: float | None, cfg: NegativesConfig,
           k: int, rng: np.random.Generator, ranked: bool = True) -> list[int]:
    """Corpus indices of up to ``k`` negatives: rank window, margin, max score, sampling."""
    cand = np.flatnonzero(mask)
    if not len(cand):
        return []
    if not ranked:  # random strategy: any eligible ticket
        return [int(i) for i in rng.choice(cand, min(k, len(cand)), replace=False)]
    order = cand[np.argsort(-scores[cand], kind="stable")]
    window = order[cfg.range_min:cfg.range_max]
    s = scores[window]
    keep = np.ones(len(window), dtype=bool)
    if cfg.margin is not None and pos_score is not None:
        keep &= s <= pos_score - cfg.margin * abs(pos_score)
    if cfg.max_score is not None:
        keep &= s <= cfg.max_score
    window = window[keep]
    if cfg.sampling == "random" and len(window) > k:
        return [int(i) for i in window[np.sort(rng.choice(len(window), k, replace=False))]]
    return [int(i) for i in window[:k]]


def mine(
    pairs: pd.DataFrame,
    corpus: Corpus,
    scorer: Scorer | None,
    cfg: NegativesConfig,
    k: int,
    seed: int,
    labelled: dict[str, list[str]] | None = None,
    categories: dict[str, str] | None = None,
    reporter: Reporter = NULL,
) -> tuple[list[list[str]], list[list[str]]]:
    """Negatives (ticket ids) and their sources for each pair, ``k`` at most per pair.

    Labelled negative links of the anchor come first; mined ones fill up to ``k``.
    ``scorer`` None means random negatives.
    """
    rng = np.random.default_rng(seed)
    labelled = labelled or {}
    categories = categories or {}
    positives_of: dict[str, set[str]] = defaultdict(set)
    for a, p in zip(pairs["anchor_id"], pairs["positive_id"], strict=True):
        positives_of[a].add(p)
        positives_of[p].add(a)
    neg_ids: list[list[str]] = []
    neg_src: list[list[str]] = []
    anchors = pairs["anchor"].tolist()
    batch = 256
    for start in reporter.track(range(0, len(pairs), batch), total=(len(pairs) + batch - 1) // batch,
                                description=f"mining negatives ({cfg.strategy})"):
        stop = min(start + batch, len(pairs))
        block = scorer.scores(anchors[start:stop]) if scorer is not None else None
        for r in range(start, stop):
            row = pairs.iloc[r]
            aid, pid = str(row["anchor_id"]), str(row["positive_id"])
            chosen: list[str] = []
            sources: list[str] = []
            for n in labelled.get(aid, []):
                if len(chosen) < k and n in corpus.index and n != pid:
                    chosen.append(n)
                    sources.append("labelled")
            need = k - len(chosen)
            if need > 0 and cfg.strategy != "none":
                mask = corpus.eligible(
                    aid, categories.get(aid, ""), positives_of[aid] | set(chosen), cfg,
                    {normalise(row["anchor"]), normalise(row["positive"])})
                pos_score = None
                scores = np.zeros(len(corpus), dtype=np.float32)
                if block is not None:
                    scores = block[r - start]
                    pi = corpus.index.get(pid)
                    pos_score = float(scores[pi]) if pi is not None else None
                picked = select(scores, mask, pos_score, cfg, need, rng, ranked=block is not None)
                chosen += [corpus.ids[i] for i in picked]
                sources += [cfg.strategy] * len(picked)
            neg_ids.append(chosen)
            neg_src.append(sources)
    return neg_ids, neg_src
