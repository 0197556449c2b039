"""Routing: kNN category (subcategory, assignment group, ...) of held-out tickets.

A held-out ticket gets the label that its ``k`` most similar training tickets vote
for (votes weighted by similarity). Accuracy and macro-F1 show whether the
embedding also organises tickets the way the desk routes them. Needs a split and
a non-empty label column; fields with no labels are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ticketsim.evaluation.bootstrap import paired_difference
from ticketsim.evaluation.metrics import ScoreFn
from ticketsim.index.routing import (
    blended,
    fit_routing,
    knn_shares,
    labelled,
    vote,
    winners,
)


def capped_split(split: np.ndarray, max_test: int, seed: int) -> np.ndarray:
    """``split`` with at most ``max_test`` held-out (``test``) tickets, a seeded sample; the
    others become ``unscored`` (still not training tickets). 0 keeps every one."""
    test = np.flatnonzero(split == "test")
    if not max_test or len(test) <= max_test:
        return split
    out = np.asarray(split, dtype=object).copy()
    drop = np.random.default_rng(seed).permutation(test)[max_test:]
    out[drop] = "unscored"
    return out


def _vote(scores: np.ndarray, labels: np.ndarray, k: int) -> list[str]:
    """The similarity-weighted vote of each row's ``k`` best columns (the served vote,
    :func:`ticketsim.index.routing.vote`)."""
    top = np.argsort(-scores, axis=1, kind="stable")[:, : min(k, scores.shape[1])]
    return [(vote([labels[j] for j in top[row]], [scores[row, j] for j in top[row]])
             or ("", 0.0))[0] for row in range(len(scores))]


def knn_fields(score_fn: ScoreFn, tasks: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
               k: int, chunk: int = 256) -> dict[str, list[str]]:
    """Per field, the predicted label of each of its test tickets from its k nearest training
    tickets; ``tasks`` maps a field to (test_idx, train_idx, labels of all tickets).

    The score rows of a test ticket are computed once for every field (a keyword scorer's
    rows are the expensive part), not once per field.
    """
    queries: np.ndarray = (np.unique(np.concatenate([t[0] for t in tasks.values()])) if tasks
                           else np.zeros(0, dtype=np.int64))
    by_ticket: dict[str, dict[int, str]] = {f: {} for f in tasks}
    for start in range(0, len(queries), chunk):
        q = queries[start : start + chunk]
        scores = np.asarray(score_fn(q), dtype=np.float64)
        for field, (test_idx, train_idx, labels) in tasks.items():
            rows = np.flatnonzero(np.isin(q, test_idx))
            if len(rows):
                votes = _vote(scores[np.ix_(rows, train_idx)], labels[train_idx], k)
                by_ticket[field].update(zip(q[rows].tolist(), votes, strict=True))
    return {f: [by_ticket[f][int(i)] for i in test_idx] for f, (test_idx, _, _) in tasks.items()}


def knn_labels(score_fn: ScoreFn, test_idx: np.ndarray, train_idx: np.ndarray,
               labels: np.ndarray, k: int, chunk: int = 256) -> list[str]:
    """Predicted label of each test ticket from its k nearest training tickets."""
    return knn_fields(score_fn, {"": (np.asarray(test_idx), np.asarray(train_idx),
                                      np.asarray(labels, dtype=object))}, k, chunk)[""]


def evaluate_routing(score_fn: ScoreFn, split: np.ndarray, fields: dict[str, np.ndarray],
                     k: int) -> dict[str, Any]:
    """Accuracy and macro-F1 per field for held-out (test) tickets against training tickets."""
    from sklearn.metrics import accuracy_score, f1_score

    tasks: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for field, values in fields.items():
        values = np.asarray(values, dtype=object)
        has = labelled(values)
        test_idx = np.flatnonzero((split == "test") & has)
        train_idx = np.flatnonzero(np.isin(split, ["train", "validation"]) & has)
        if len(test_idx) and len(train_idx):
            tasks[field] = (test_idx, train_idx, values)
    out: dict[str, Any] = {}
    for field, pred in knn_fields(score_fn, tasks, k).items():
        test_idx, _, values = tasks[field]
        true = [str(v).strip() for v in values[test_idx]]
        out[field] = {
            "accuracy": float(accuracy_score(true, pred)),
            "macro_f1": float(f1_score(true, pred, average="macro", zero_division=0)),
            "n": int(len(test_idx)), "classes": int(len(set(true))), "k": int(k),
            **_per_ticket(test_idx, true, pred),
        }
    return out


def _per_ticket(tickets: np.ndarray, true: list[str], pred: list[str]) -> dict[str, np.ndarray]:
    """Which tickets were routed right (private keys: :func:`paired_vs_base` reads them, then
    drops them before anything is written)."""
    return {"_tickets": np.asarray(tickets, dtype=np.int64),
            "_correct": np.asarray([t == p for t, p in zip(true, pred, strict=True)], dtype=bool)}


def base_of(system: str) -> str:
    """The base-model row a routing row is compared with: the router with the router, the vote
    with the vote."""
    return "base (suggestion)" if system.endswith(" (suggestion)") else "base"


def paired_vs_base(route: dict[str, dict[str, Any]], samples: int, seed: int,
                   confidence: float) -> dict[str, dict[str, Any]]:
    """``route`` with each row's paired bootstrap difference in accuracy to the base model's
    row of the same kind on the same held-out tickets (``vs_base``), and without the per-ticket
    arrays. Fine-tuning must not cost routing; this says whether it did beyond the noise."""
    out: dict[str, dict[str, Any]] = {}
    for system, fields in route.items():
        out[system] = {}
        for field, row in fields.items():
            clean = {k: v for k, v in row.items() if not k.startswith("_")}
            base = route.get(base_of(system), {}).get(field)
            if (base is not None and system != base_of(system) and "_correct" in row
                    and "_correct" in base and np.array_equal(row["_tickets"], base["_tickets"])):
                clean["vs_base"] = {"base": base_of(system), **paired_difference(
                    row["_correct"], base["_correct"], samples, seed, confidence)}
            out[system][field] = clean
    return out


def router_predictions(vectors: np.ndarray, texts: list[str], fields: dict[str, np.ndarray],
                       train: np.ndarray, test: np.ndarray, icfg: Any,
                       order: np.ndarray | None = None,
                       info: dict[str, Any] | None = None, lead: np.ndarray | None = None,
                       lead_weight: float = 0.0) -> dict[str, np.ndarray]:
    """Per field, the served router's suggestion for each ``test`` row when it is fitted on the
    ``train`` rows only (``order``: all rows oldest first, for ``routing_features: auto``;
    ``info`` receives the router's own record, as routing.json holds it: ``selection`` (auto's
    per-field choice) and ``reading``; ``lead``: every row read with the lead at
    ``lead_weight``, the router's other reading)."""
    # without an age order, a seeded one (as the index stage does for undated tickets): file
    # order is often sorted by label, and its last fifth is then no fair validation
    order = (np.random.default_rng(0).permutation(len(texts)) if order is None
             else np.asarray(order))
    pos = {int(r): i for i, r in enumerate(train)}
    train_order = np.array([pos[int(r)] for r in order if int(r) in pos], dtype=np.int64)
    router = fit_routing(vectors[train], [texts[i] for i in train],
                         {f: np.asarray(v, dtype=object)[train] for f, v in fields.items()},
                         train_order, icfg, "", None if lead is None else lead[train],
                         lead_weight)
    if router is None:
        return {}
    if info is not None:
        info.update(router.info)
    read = lead if router.lead_weight else None  # what the heads read and the vote re-scores by
    out: dict[str, np.ndarray] = {}
    if router.heads:
        probs = router.predict_proba((vectors if read is None else read)[test],
                                     [texts[i] for i in test] if router.text is not None else None)
        for f, (classes, p) in probs.items():
            if f in router.blend:  # the vote of the nearest training tickets, as served
                p = blended(p, classes, knn_shares(vectors, np.asarray(fields[f], dtype=object),
                                                   np.asarray(train), np.asarray(test),
                                                   router.blend[f], read))
            out[f] = classes[np.argmax(p, axis=1)].astype(object)
    for f, k in router.knn.items():
        labels = np.asarray(fields[f], dtype=object)
        out[f] = winners(knn_shares(vectors, labels, np.asarray(train), np.asarray(test), k, read))
    return out


def evaluate_router(vectors: np.ndarray, texts: Sequence[str], split: np.ndarray,
                    fields: dict[str, np.ndarray], icfg: Any,
                    order: np.ndarray | None = None, lead: np.ndarray | None = None,
                    lead_weight: float = 0.0, report: Sequence[str] | None = None,
                    ) -> dict[str, Any]:
    """Accuracy and macro-F1 per field of the served routing head (:mod:`ticketsim.index.routing`,
    the ``index`` section's features, C, terms and routing reading) fitted on the training
    tickets only (``lead``: :func:`router_predictions`; ``lead_weight`` in each row: how it
    read them). The router is fitted on all ``fields`` (as the index fits it: the reading is
    chosen over all of them); ``report``: the fields scored (default: all)."""
    from sklearn.metrics import accuracy_score, f1_score

    train_idx = np.flatnonzero(np.isin(split, ["train", "validation"]))
    test_idx = np.flatnonzero(split == "test")
    if not len(test_idx) or not len(train_idx):
        return {}
    info: dict[str, Any] = {}
    preds = router_predictions(vectors, list(texts), fields, train_idx, test_idx, icfg, order,
                               info, lead, lead_weight)
    lead_used = float(info.get("reading", {}).get("lead_weight") or 0.0)
    out: dict[str, Any] = {}
    for field, pred_all in preds.items():
        if report is not None and field not in report:
            continue
        values = np.asarray(fields[field], dtype=object)[test_idx]
        has = labelled(values)
        if not has.any():
            continue
        true = [str(v).strip() for v in values[has]]
        pred = [str(c) for c in pred_all[has]]
        out[field] = {
            "accuracy": float(accuracy_score(true, pred)),
            "macro_f1": float(f1_score(true, pred, average="macro", zero_division=0)),
            "n": int(has.sum()), "classes": int(len(set(true))), "k": None,
            "lead_weight": lead_used,
            **_per_ticket(test_idx[has], true, pred),
        }
    return out


def routing_fields(columns: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """The wanted fields that exist as columns (missing ones are reported by the caller)."""
    return [f for f in wanted if f in columns]
