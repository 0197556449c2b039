"""Leakage-safe train / validation / test splits of tickets.

Three ways, all at ticket level so that no held-out ticket is ever in a training
example: ``cluster`` deals whole link clusters (connected components of positive
links) to one split at random; ``time`` holds out the newest tickets, as a desk
would deploy the model; ``kfold`` deals link clusters into k folds and makes one
fold the test split, for data with a few dozen links where one split gives too
few test queries (run the pipeline once per fold).
Held-out links: positive links with at least one end in a held-out split; the
held-out end is always ``a``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ticketsim.config import SplitConfig
from ticketsim.errors import TicketsimError
from ticketsim.evaluation.folds import clusters


def link_clusters(ids: list[str], edges: pd.DataFrame) -> np.ndarray:
    """Connected-component label of each ticket over positive links (scipy's csgraph)."""
    index = {t: i for i, t in enumerate(ids)}
    pairs = [(index[a], index[b]) for a, b in zip(edges["a"].astype(str), edges["b"].astype(str),
                                                 strict=True) if a in index and b in index]
    return clusters(len(ids), pairs)


def _deal_clusters(labels: np.ndarray, fractions: dict[str, float], seed: int) -> np.ndarray:
    """Assign whole clusters to splits at random until each split has its share of tickets.

    Linked clusters are dealt first, so every split gets linked tickets (its queries),
    then singletons fill each split up to its share.
    """
    rng = np.random.default_rng(seed)
    n = len(labels)
    uniq, counts = np.unique(labels, return_counts=True)
    linked = uniq[counts > 1]
    single = uniq[counts == 1]
    out = np.full(n, "train", dtype=object)
    members: dict[int, np.ndarray] = {}
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.searchsorted(sorted_labels, uniq)
    ends = np.searchsorted(sorted_labels, uniq, side="right")
    for u, s, e in zip(uniq, starts, ends, strict=True):
        members[int(u)] = order[s:e]
    for group in (linked, single):
        total = sum(len(members[int(u)]) for u in group)
        targets = {k: round(f * total) for k, f in fractions.items()}
        filled = dict.fromkeys(fractions, 0)
        for u in rng.permutation(group):
            m = members[int(u)]
            for split in fractions:
                if filled[split] + len(m) / 2 <= targets[split]:
                    out[m] = split
                    filled[split] += len(m)
                    break
    return out


def cluster_folds(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold of each ticket: linked clusters (largest first), then singletons, each to the
    currently smallest fold, so folds have similar numbers of linked tickets."""
    rng = np.random.default_rng(seed)
    uniq, counts = np.unique(labels, return_counts=True)
    perm = rng.permutation(len(uniq))
    uniq, counts = uniq[perm], counts[perm]
    order = np.argsort(-counts, kind="stable")
    linked_sizes = np.zeros(k, dtype=np.int64)
    all_sizes = np.zeros(k, dtype=np.int64)
    fold_of: dict[int, int] = {}
    for j in order:
        sizes = linked_sizes if counts[j] > 1 else all_sizes
        f = int(np.argmin(sizes))
        fold_of[int(uniq[j])] = f
        linked_sizes[f] += counts[j] if counts[j] > 1 else 0
        all_sizes[f] += counts[j]
    return np.array([fold_of[int(c)] for c in labels], dtype=np.int64)


def split_tickets(tickets: pd.DataFrame, links: pd.DataFrame, cfg: SplitConfig) -> pd.DataFrame:
    """``id``, ``split`` (and ``fold`` for kfold) of every ticket."""
    ids = tickets["id"].astype(str).tolist()
    if cfg.test_fraction + cfg.validation_fraction >= 1:
        raise TicketsimError(
            "pairs.split.test_fraction + validation_fraction must be below 1",
            field="pairs.split", hint="leave some tickets for training",
        )
    labels = link_clusters(ids, links)
    out = pd.DataFrame({"id": ids})
    if cfg.method == "time":
        created = pd.to_datetime(tickets["created"]) if "created" in tickets.columns else None
        if created is None or created.isna().all():
            raise TicketsimError(
                "split.method 'time' needs creation dates, and the tickets have none",
                field="pairs.split.method",
                hint="map data.columns.created, or use split.method: cluster",
            )
        # undated tickets count as oldest: they stay in training
        key = created.astype("int64").where(created.notna(), np.iinfo(np.int64).min).to_numpy()
        order = np.lexsort((np.array(ids, dtype=object).astype(str), key))[::-1]  # newest first
        n = len(ids)
        n_test = max(1, round(cfg.test_fraction * n))
        n_val = round(cfg.validation_fraction * n)
        split = np.full(n, "train", dtype=object)
        split[order[:n_test]] = "test"
        split[order[n_test:n_test + n_val]] = "validation"
        out["split"] = split
    elif cfg.method == "all":  # cross-fitting's served model: every link trains
        out["split"] = _deal_clusters(labels, {"validation": cfg.validation_fraction}, cfg.seed)
    elif cfg.method == "cluster":
        out["split"] = _deal_clusters(
            labels, {"test": cfg.test_fraction, "validation": cfg.validation_fraction}, cfg.seed)
    else:  # kfold
        if cfg.fold >= cfg.folds:
            raise TicketsimError(
                f"pairs.split.fold {cfg.fold} is out of range for {cfg.folds} folds",
                field="pairs.split.fold", hint=f"use 0..{cfg.folds - 1}",
            )
        folds = cluster_folds(labels, cfg.folds, cfg.seed)
        split = np.where(folds == cfg.fold, "test", "train").astype(object)
        # validation: clusters of the next fold's share, drawn from the training folds
        rest = np.flatnonzero(split == "train")
        if cfg.validation_fraction > 0 and len(rest):
            sub = _deal_clusters(labels[rest], {"validation": cfg.validation_fraction},
                                 cfg.seed + 1)
            split[rest[sub == "validation"]] = "validation"
        out["split"] = split
        out["fold"] = folds
    return out


def held_out_links(positive: pd.DataFrame, split: pd.DataFrame, which: str) -> pd.DataFrame:
    """Positive links with at least one end in split ``which``; ``a`` is the held-out end."""
    where = dict(zip(split["id"].astype(str), split["split"].astype(str), strict=True))
    rows = []
    for rec in positive.to_dict("records"):
        a, b = str(rec["a"]), str(rec["b"])
        sa, sb = where.get(a), where.get(b)
        if sa != which and sb != which:
            continue
        if sa != which:
            a, b = b, a
        rows.append({**rec, "a": a, "b": b})
    cols = list(positive.columns)
    return pd.DataFrame(rows, columns=cols)
