"""Duplicate decision: labelled pairs, thresholds, and a calibrated probability per model.

Positives are the held-out links (``duplicate`` and ``related`` kinds apart);
negatives are what a desk would really see: unlinked candidates from each query's
own top-k results (hard) plus a few random tickets (easy), plus any link labelled 0.
On those pairs we report average precision, the best-F1 threshold (found by
sentence-transformers' ``BinaryClassificationEvaluator``), the threshold that reaches
the target precision with its recall, and a Platt calibration (logistic regression
on the cosine score) so that "p = 0.9 duplicate" means the same for every model.
Related links get their own, lower threshold fitted on related + duplicate positives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from ticketsim.evaluation.metrics import Ranking

MAX_CURVE_POINTS = 200
MAX_DIST_POINTS = 3000


@dataclasses.dataclass
class PairSet:
    """Labelled ticket pairs (corpus indices) with their kind and where they came from."""

    a: np.ndarray
    b: np.ndarray
    label: np.ndarray  # 1 linked, 0 not
    kind: list[str]  # duplicate / related / negative
    source: list[str]  # link / hard / random / labelled

    def __len__(self) -> int:
        return len(self.a)


def build_pairs(
    ranking: Ranking,
    relevant_kind: Sequence[dict[int, str]],
    known: set[frozenset[int]],
    labelled_negatives: Sequence[tuple[int, int]],
    *,
    top_k: int,
    random_per_query: int,
    n_corpus: int,
    seed: int,
) -> PairSet:
    """Pairs for one model: its own hard negatives, so each model is judged on what it ranks high."""
    rng = np.random.default_rng(seed)
    a: list[int] = []
    b: list[int] = []
    label: list[int] = []
    kind: list[str] = []
    source: list[str] = []

    def add(x: int, y: int, lab: int, k: str, src: str) -> None:
        a.append(x)
        b.append(y)
        label.append(lab)
        kind.append(k)
        source.append(src)

    for q, hits, rel in zip(ranking.query_idx, ranking.top, relevant_kind, strict=True):
        for r, k in rel.items():
            add(q, r, 1, k, "link")
        n_hard = 0
        for c, _ in hits:
            if n_hard >= top_k:
                break
            if c in rel or frozenset((q, c)) in known:
                continue
            add(q, c, 0, "negative", "hard")
            n_hard += 1
        tries = 0
        n_rand = 0
        while n_rand < random_per_query and tries < 20 * max(1, random_per_query) and n_corpus > 1:
            tries += 1
            c = int(rng.integers(0, n_corpus))
            if c == q or c in rel or frozenset((q, c)) in known:
                continue
            add(q, c, 0, "negative", "random")
            n_rand += 1
    for x, y in labelled_negatives:
        add(x, y, 0, "negative", "labelled")
    return PairSet(np.array(a, dtype=np.int64), np.array(b, dtype=np.int64),
                   np.array(label, dtype=np.int64), kind, source)


def precision_threshold(scores: np.ndarray, labels: np.ndarray, target: float) -> dict[str, Any]:
    """Lowest threshold whose precision reaches ``target`` (so recall is highest), or None."""
    from sklearn.metrics import precision_recall_curve

    p, r, thr = precision_recall_curve(labels, scores)
    ok = np.flatnonzero(p[:-1] >= target)
    if len(ok) == 0:
        return {"threshold": None, "precision": None, "recall": None, "reached": False}
    best = ok[np.argmax(r[ok])]
    return {"threshold": float(thr[best]), "precision": float(p[best]), "recall": float(r[best]),
            "reached": True}


def calibrate(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Platt scaling ``p = sigmoid(a * score + b)`` fitted by logistic regression."""
    from sklearn.linear_model import LogisticRegression

    if len(set(labels.tolist())) < 2:
        return 10.0, -8.0
    lr = LogisticRegression(C=100.0, max_iter=1000)
    lr.fit(scores.reshape(-1, 1), labels)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _curve(scores: np.ndarray, labels: np.ndarray) -> dict[str, list[float]]:
    from sklearn.metrics import precision_recall_curve

    p, r, _ = precision_recall_curve(labels, scores)
    step = max(1, len(p) // MAX_CURVE_POINTS)
    return {"precision": [round(float(x), 4) for x in p[::step]],
            "recall": [round(float(x), 4) for x in r[::step]]}


def _sample(values: np.ndarray, seed: int) -> list[float]:
    if len(values) > MAX_DIST_POINTS:
        values = np.random.default_rng(seed).choice(values, MAX_DIST_POINTS, replace=False)
    return [round(float(v), 4) for v in values]


def fit_decision(
    scores: np.ndarray,
    pairs: PairSet,
    *,
    target_precision: float,
    threshold_rule: str,
    seed: int = 0,
) -> dict[str, Any]:
    """Thresholds, AP and calibration for one model's pair scores."""
    from sentence_transformers.sentence_transformer.evaluation import BinaryClassificationEvaluator
    from sklearn.metrics import average_precision_score, brier_score_loss

    kind = np.asarray(pairs.kind)
    neg = kind == "negative"
    dup = kind == "duplicate"
    rel = kind == "related"
    out: dict[str, Any] = {
        "n_pairs": len(pairs), "n_duplicate": int(dup.sum()), "n_related": int(rel.sum()),
        "n_negative": int(neg.sum()),
        "negatives_by_source": {s: int(sum(1 for x, k in zip(pairs.source, pairs.kind, strict=True)
                                           if x == s and k == "negative"))
                                for s in ("hard", "random", "labelled")},
    }
    # duplicates: duplicate-kind positives vs negatives; with no duplicate kind, every positive
    pos_mask = dup if dup.any() else (dup | rel)
    m = pos_mask | neg
    s, y = scores[m], pos_mask[m].astype(np.int64)
    if y.sum() == 0 or (1 - y).sum() == 0:
        out["error"] = "need both linked and unlinked pairs"
        return out
    f1, prec, rec, thr_f1 = BinaryClassificationEvaluator.find_best_f1_and_threshold(s, y, True)
    at_p = precision_threshold(s, y, target_precision)
    a, b = calibrate(s, y)
    prob = 1.0 / (1.0 + np.exp(-np.clip(a * s + b, -60, 60)))
    chosen = at_p["threshold"] if threshold_rule == "precision" and at_p["reached"] else float(thr_f1)
    out.update({
        "average_precision": float(average_precision_score(y, s)),
        "best_f1": {"threshold": float(thr_f1), "f1": float(f1), "precision": float(prec),
                    "recall": float(rec)},
        "at_target_precision": {"target": target_precision, **at_p},
        "threshold_rule": threshold_rule if chosen == at_p["threshold"] else "f1",
        "duplicate_threshold": float(chosen),
        "calibration": {"a": a, "b": b, "brier": float(brier_score_loss(y, prob))},
        "pr_curve": _curve(s, y),
        "scores_linked": _sample(s[y == 1], seed),
        "scores_unlinked": _sample(s[y == 0], seed + 1),
    })
    # related: its own fit on related + duplicate positives, never above the duplicate cut
    if rel.any():
        m2 = dup | rel | neg
        y2 = (dup | rel)[m2].astype(np.int64)
        _, _, _, thr_rel = BinaryClassificationEvaluator.find_best_f1_and_threshold(
            scores[m2], y2, True)
        out["related_rule"] = "best F1 of related + duplicate links vs unlinked"
    else:
        # no related links known: the cut that keeps 90 % of duplicates
        thr_rel = float(np.quantile(s[y == 1], 0.1))
        out["related_rule"] = "no related links: 10th percentile of duplicate-pair scores"
    out["related_threshold"] = float(min(float(thr_rel), chosen))
    return out
