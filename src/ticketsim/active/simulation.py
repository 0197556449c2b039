"""Simulated active learning: an annotator that answers from the demo's truth, and the verdict.

``bench/active_learning.py`` runs labelling rounds on generated demo desks (the demo
generator knows which tickets truly duplicate each other); this module holds what the
benchmark decides with, so it is tested with the library: the :class:`Oracle` that
answers like a person would, how many labels a strategy needed to reach random's final
MRR@10 (:func:`labels_to_reach`), pooling desks query by query (:func:`combine`) and the
paired-bootstrap :func:`verdict_for` a strategy comparison.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ticketsim.evaluation.bootstrap import paired_difference


class Oracle:
    """truth.json as the person who answers."""

    def __init__(self, truth: dict[str, Any]) -> None:
        self.group = {t: g["id"] for g in truth["groups"] for t in g["tickets"]}
        self.related = {tuple(sorted(p)) for p in truth["related"]}

    def answer(self, a: str, b: str) -> tuple[int, str, str]:
        """(label, kind, name) the way the terminal session stores it."""
        ga, gb = self.group.get(a), self.group.get(b)
        if ga is not None and ga == gb:
            return 1, "duplicate", "duplicate"
        if tuple(sorted((a, b))) in self.related:
            return 1, "related", "related"
        return 0, "related", "not related"


def loss_tree(loss: str, margin: float | None = None) -> dict[str, Any]:
    """The train section's loss part: MNRL with one hard negative, or a labelled-pairs loss.

    ``margin`` is the (online) contrastive loss's: how far apart a "not related" answer is
    pushed (cosine distance).
    """
    if loss == "mnrl":
        return {"loss": "mnrl", "losses": {"mnrl": {"hard_negatives": 1}}}
    if margin is not None and loss in ("contrastive", "online_contrastive"):
        return {"loss": loss, "losses": {"contrastive": {"margin": margin}}}
    return {"loss": loss}


def labels_to_reach(curve: list[dict[str, Any]], target: float) -> float | None:
    """Labels at which a curve first reaches ``target``, interpolated linearly between rounds.

    None if it never does; 0 if round 0 already does (then the comparison is void).
    """
    if curve and curve[0]["mrr@10"] >= target - 1e-9:
        return 0.0
    for prev, p in zip(curve, curve[1:], strict=False):
        if p["mrr@10"] >= target - 1e-9:
            y0, y1 = prev["mrr@10"], p["mrr@10"]
            frac = 1.0 if y1 <= y0 else (target - y0) / (y1 - y0)
            return float(prev["labels"] + frac * (p["labels"] - prev["labels"]))
    return None


def combine(runs: list[dict[str, Any]]) -> tuple[dict[str, list[dict[str, Any]]],
                                                  dict[str, list[dict[str, float]]]]:
    """Pool the desks: per round, the held-out queries of every desk together.

    A point's MRR@10 is the mean over all pooled queries (so a desk with more queries
    weighs more, as one bigger desk would); ``per_seed`` keeps each desk's own value.
    """
    curves: dict[str, list[dict[str, Any]]] = {}
    per_query: dict[str, list[dict[str, float]]] = {}
    for name in runs[0]["curves"]:
        pooled = [{f"{r['seed']}:{q}": v for r in runs for q, v in r["per_query"][name][i].items()}
                  for i in range(len(runs[0]["curves"][name]))]
        per_query[name] = pooled
        curves[name] = [{
            "round": p["round"], "labels": p["labels"],
            "mrr@10": float(np.mean(list(pooled[i].values()))),
            "per_seed": [r["curves"][name][i]["mrr@10"] for r in runs],
            "positives_found": sum(r["curves"][name][i]["positives_found"] for r in runs),
        } for i, p in enumerate(runs[0]["curves"][name])]
    return curves, per_query


def verdict_for(curves: dict[str, list[dict[str, Any]]],
                per_query: dict[str, list[dict[str, float]]], *, share: float = 0.7,
                seed: int = 0, samples: int = 2000) -> dict[str, Any]:
    """Does the best non-random strategy reach random's final MRR@10 with <= ``share`` of its labels?

    Only a question worth asking when random's labels moved the model: the paired bootstrap
    (same held-out queries, resampled together) of random's final round against round 0 must
    exclude zero, else the verdict is ``None``. The best strategy's final round is also
    compared with random's final round, paired, so the notes can say whether it ends higher.
    """

    def diff(a: dict[str, float], b: dict[str, float]) -> dict[str, Any]:
        qs = sorted(set(a) & set(b))
        out = paired_difference(np.array([a[q] for q in qs]), np.array([b[q] for q in qs]),
                                samples, seed, 0.95)
        return {k: out[k] for k in ("diff", "low", "high", "significant")}

    if "random" not in curves:
        return {"done_when_met": None, "note": "no random control in this run"}
    target = curves["random"][-1]["mrr@10"]
    random_labels = curves["random"][-1]["labels"]
    reach: dict[str, dict[str, Any]] = {}
    for name, curve in curves.items():
        n = labels_to_reach(curve, target)
        reach[name] = {"labels": n, "share_of_random": None if n is None else n / random_labels}
    others = {k: v for k, v in reach.items() if k != "random" and v["labels"] is not None}
    best = min(others, key=lambda k: others[k]["labels"]) if others else None
    gain = diff(per_query["random"][-1], per_query["random"][0])
    verdict: dict[str, Any] = {
        "random_final_mrr@10": target, "random_labels": random_labels,
        "labels_to_reach_random_final": reach, "best_non_random": best,
        "random_gain_over_round0": gain,
        "final_vs_random_final": {k: diff(per_query[k][-1], per_query["random"][-1])
                                  for k in curves if k != "random"},
    }
    if best:
        verdict["best_share_of_random"] = others[best]["share_of_random"]
    if not (gain["significant"] and gain["diff"] > 0):
        verdict["done_when_met"] = None
        verdict["note"] = ("random's labels did not move held-out MRR@10 beyond noise (paired "
                           "95 % CI of final - round 0 includes zero): comparison void")
    else:
        verdict["done_when_met"] = bool(best and others[best]["share_of_random"] <= share)
    return verdict
