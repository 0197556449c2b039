"""Diversity sampling: uncertain pairs, spread over categories so one topic does not take the batch.

What it does: groups candidates by their anchor ticket's category/subcategory (or, when
tickets have no category, by k-means clusters of the anchors' embeddings, scikit-learn),
orders each group by uncertainty (see :mod:`.uncertainty`) and deals the batch round-robin
over the groups, the group with the most uncertain pair first.
When to pick it: a desk where one noisy category (passwords, VPN) would otherwise fill
every batch; large batches (``label.n``) gain most. What it needs: categories, or
``label.clusters`` for the k-means fallback.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ticketsim.active.candidates import CandidatePool
from ticketsim.active.strategies.uncertainty import uncertainty


def cluster_groups(pool: CandidatePool, clusters: int, seed: int) -> np.ndarray:
    """Group label per pair: the anchor's category, else its k-means cluster."""
    pairs = pool.pairs
    if (pairs["group"] != "").any():
        return pairs["group"].to_numpy()
    from sklearn.cluster import KMeans

    pos = {t: i for i, t in enumerate(pool.tickets["id"].astype(str))}
    anchors = sorted(set(pairs["anchor"]))
    k = min(clusters, len(anchors))
    if k < 2:
        return np.zeros(len(pairs), dtype=object)
    km = KMeans(n_clusters=k, n_init=3, random_state=seed)
    labels = km.fit_predict(pool.vectors[[pos[a] for a in anchors]])
    of = dict(zip(anchors, labels, strict=True))
    return np.array([f"cluster {of[a]}" for a in pairs["anchor"]], dtype=object)


class DiversityStrategy:
    name = "diversity"

    def __init__(self, clusters: int = 8, seed: int = 0) -> None:
        self.clusters = clusters
        self.seed = seed
        self.last_groups: np.ndarray | None = None

    def select(self, pool: CandidatePool, n: int) -> pd.DataFrame:
        pairs = pool.pairs
        if pairs.empty:
            return pairs.assign(priority=[], reason=[])
        closeness, what = uncertainty(pool)
        groups = cluster_groups(pool, self.clusters, self.seed)
        self.last_groups = groups
        df = pairs.assign(_u=closeness, _g=groups).sample(frac=1.0, random_state=self.seed)
        df = df.sort_values("_u", ascending=False, kind="stable")
        df["_turn"] = df.groupby("_g").cumcount()
        best = df.groupby("_g")["_u"].transform("max")
        df = df.assign(_best=best).sort_values(["_turn", "_best", "_u"],
                                                ascending=[True, False, False], kind="stable")
        out = df.head(n).copy()
        out["priority"] = np.linspace(1.0, 0.0, len(out)) if len(out) else []
        out["reason"] = [f"{g}: {what} closeness {u:.2f} (turn {t + 1})"
                         for g, u, t in zip(out["_g"], out["_u"], out["_turn"], strict=True)]
        return out.drop(columns=["_u", "_g", "_turn", "_best"]).reset_index(drop=True)
