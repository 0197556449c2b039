"""Routing: kNN category (subcategory, assignment group, ...) of held-out tickets.

A held-out ticket gets the label that its ``k`` most similar training tickets vote
for (votes weighted by similarity). Accuracy and macro-F1 show whether the
embedding also organises tickets the way the desk routes them. Needs a split and
a non-empty label column; fields with no labels are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ticketsim.evaluation.metrics import ScoreFn


def knn_labels(score_fn: ScoreFn, test_idx: np.ndarray, train_idx: np.ndarray,
               labels: np.ndarray, k: int, chunk: int = 256) -> list[str]:
    """Predicted label of each test ticket from its k nearest training tickets."""
    preds: list[str] = []
    train_labels = labels[train_idx]
    for start in range(0, len(test_idx), chunk):
        q = test_idx[start : start + chunk]
        scores = np.asarray(score_fn(q), dtype=np.float64)[:, train_idx]
        kk = min(k, len(train_idx))
        top = np.argsort(-scores, axis=1, kind="stable")[:, :kk]
        for row in range(len(q)):
            votes: dict[str, float] = defaultdict(float)
            for j in top[row]:
                votes[str(train_labels[j])] += max(float(scores[row, j]), 0.0) + 1e-6
            preds.append(max(votes.items(), key=lambda kv: kv[1])[0])
    return preds


def evaluate_routing(score_fn: ScoreFn, split: np.ndarray, fields: dict[str, np.ndarray],
                     k: int) -> dict[str, Any]:
    """Accuracy and macro-F1 per field for held-out (test) tickets against training tickets."""
    from sklearn.metrics import accuracy_score, f1_score

    out: dict[str, Any] = {}
    for field, values in fields.items():
        values = np.asarray(values, dtype=object)
        has = np.array([bool(str(v).strip()) and str(v) != "nan" for v in values])
        test_idx = np.flatnonzero((split == "test") & has)
        train_idx = np.flatnonzero(np.isin(split, ["train", "validation"]) & has)
        if len(test_idx) == 0 or len(train_idx) == 0:
            continue
        pred = knn_labels(score_fn, test_idx, train_idx, values, k)
        true = [str(v) for v in values[test_idx]]
        out[field] = {
            "accuracy": float(accuracy_score(true, pred)),
            "macro_f1": float(f1_score(true, pred, average="macro", zero_division=0)),
            "n": int(len(test_idx)), "classes": int(len(set(true))), "k": int(k),
        }
    return out


def evaluate_router(vectors: np.ndarray, texts: Sequence[str], split: np.ndarray,
                    fields: dict[str, np.ndarray], icfg: Any) -> dict[str, Any]:
    """Accuracy and macro-F1 per field of the served routing head (:mod:`ticketsim.index.routing`,
    the ``index`` section's features, C and terms) fitted on the training tickets only."""
    from sklearn.metrics import accuracy_score, f1_score

    from ticketsim.index.routing import Router, labelled

    train_idx = np.flatnonzero(np.isin(split, ["train", "validation"]))
    test_idx = np.flatnonzero(split == "test")
    with_text = icfg.routing_features == "embedding+tfidf"
    train_texts = [texts[i] for i in train_idx] if with_text else None
    router = Router.fit(vectors[train_idx], {f: np.asarray(v, dtype=object)[train_idx]
                                            for f, v in fields.items()},
                        c=icfg.routing_c, fingerprint="", texts=train_texts,
                        max_terms=icfg.routing_max_terms)
    if router is None or not len(test_idx):
        return {}
    probs = router.predict_proba(vectors[test_idx],
                                 [texts[i] for i in test_idx] if with_text else None)
    out: dict[str, Any] = {}
    for field, (classes, p) in probs.items():
        values = np.asarray(fields[field], dtype=object)[test_idx]
        has = labelled(values)
        if not has.any():
            continue
        true = [str(v).strip() for v in values[has]]
        pred = [str(c) for c in classes[np.argmax(p[has], axis=1)]]
        out[field] = {
            "accuracy": float(accuracy_score(true, pred)),
            "macro_f1": float(f1_score(true, pred, average="macro", zero_division=0)),
            "n": int(has.sum()), "classes": int(len(set(true))), "k": None,
        }
    return out


def routing_fields(columns: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """The wanted fields that exist as columns (missing ones are reported by the caller)."""
    return [f for f in wanted if f in columns]
