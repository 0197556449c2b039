"""The pairs report: what the training set is made of and how hard its negatives are.

Counts per source (links, category, views, augmentation), per category, negatives
per anchor, and negative hardness measured two ways against random allowed negatives
for the same anchors: mean BM25 rank among the training tickets (lower: harder) and
mean base-model cosine similarity to the anchor (higher: harder). A few examples of
each kind make the numbers concrete. ``ticketsim pairs`` prints it; ``summary.json``
keeps it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from ticketsim.config import NegativesConfig
from ticketsim.pairs.negatives import Corpus, select
from ticketsim.pairs.text import normalise
from ticketsim.progress import NULL, Reporter


def counts(pairs: pd.DataFrame, neg_ids: list[list[str]], neg_src: list[list[str]]) -> dict:
    """Counts per source, per category and negatives per anchor."""
    out: dict[str, Any] = {
        "positives": int(len(pairs)),
        "per_source": {str(k): int(v) for k, v in Counter(pairs["source"]).most_common()},
        "per_category": {str(k or "(none)"): int(v)
                         for k, v in Counter(pairs["category"]).most_common()},
    }
    if neg_ids:
        per = [len(n) for n in neg_ids]
        out["negatives"] = {
            "total": int(sum(per)),
            "per_anchor_mean": float(np.mean(per)) if per else 0.0,
            "anchors_without": int(sum(1 for x in per if x == 0)),
            "per_source": {str(k): int(v) for k, v in
                           Counter(s for src in neg_src for s in src).most_common()},
        }
    return out


def hardness(
    pairs: pd.DataFrame, neg_ids: list[list[str]], corpus: Corpus, cfg: NegativesConfig,
    bm25: Any, model: Any | None, sample: int, seed: int, categories: dict[str, str],
    reporter: Reporter = NULL,
) -> dict:
    """Mean BM25 rank and base-model similarity of the chosen negatives vs random ones."""
    rng = np.random.default_rng(seed)
    rows = [i for i, n in enumerate(neg_ids) if n and n[0] in corpus.index]
    if not rows or sample <= 0:
        return {}
    rows = sorted(rng.choice(rows, min(sample, len(rows)), replace=False).tolist())
    anchors, chosen, rand = [], [], []
    for i in rows:
        p = pairs.iloc[i]
        mask = corpus.eligible(str(p["anchor_id"]), categories.get(str(p["anchor_id"]), ""),
                               {str(p["positive_id"])}, cfg,
                               {normalise(p["anchor"]), normalise(p["positive"])})
        r = select(np.zeros(len(corpus)), mask, None, cfg, 1, rng, ranked=False)
        if not r:
            continue
        anchors.append(str(p["anchor"]))
        chosen.append(corpus.index[neg_ids[i][0]])
        rand.append(r[0])
    if not anchors:
        return {}
    reporter.log(f"pairs: measuring negative hardness on {len(anchors)} anchors")
    out: dict[str, Any] = {"anchors": len(anchors), "corpus": len(corpus)}
    rk_m = bm25.ranks(anchors, chosen)
    rk_r = bm25.ranks(anchors, rand)
    out["bm25_rank"] = {"mined": float(np.mean(rk_m)), "random": float(np.mean(rk_r)),
                        "mined_median": float(np.median(rk_m)),
                        "random_median": float(np.median(rk_r))}
    if model is not None:
        sim_m = model.pair_similarity(anchors, [corpus.texts[j] for j in chosen])
        sim_r = model.pair_similarity(anchors, [corpus.texts[j] for j in rand])
        out["model_similarity"] = {"mined": float(np.mean(sim_m)), "random": float(np.mean(sim_r)),
                                   "model": getattr(model, "path", "")}
    return out


def examples(pairs: pd.DataFrame, neg_ids: list[list[str]], texts: dict[str, str], k: int,
             seed: int) -> dict[str, list[dict]]:
    """Up to ``k`` examples per source, with the first negative when there is one."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[dict]] = {}
    for source in sorted(set(pairs["source"])):
        idx = np.flatnonzero(pairs["source"].to_numpy() == source)
        for i in sorted(rng.choice(idx, min(k, len(idx)), replace=False).tolist()):
            p = pairs.iloc[i]
            ex = {"anchor": _cut(p["anchor"]), "positive": _cut(p["positive"]),
                  "category": p["category"]}
            if neg_ids and neg_ids[i]:
                ex["negative"] = _cut(texts[neg_ids[i][0]])
            out.setdefault(source, []).append(ex)
    return out


def _cut(text: str, n: int = 160) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"
