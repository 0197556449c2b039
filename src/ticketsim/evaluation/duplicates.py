"""Duplicate decision: labelled pairs, thresholds, a calibrated probability, and what labels mean.

Positives are the held-out links (``duplicate`` and ``related`` kinds apart);
negatives are what a desk would really see: unlinked candidates from each query's
own top-k results (hard) plus a few random tickets (easy), plus any link labelled 0.
An unlinked pair whose tickets share every ``related_fields`` value (by default the
same category and subcategory) is a ``topic`` pair: not a duplicate, but related, which
is what a person calls two tickets about the same known issue.
On those pairs we report average precision, the best-F1 threshold (found by
sentence-transformers' ``BinaryClassificationEvaluator``), the threshold that reaches
the target precision with its recall, and a Platt calibration (logistic regression
on the cosine score) so that "p = 0.9 duplicate" means the same for every model.
The related threshold is the cut that best separates duplicate + related + topic pairs
from the rest (max TPR - FPR). Each label's precision and recall are measured by cross-fitting over folds of
queries (thresholds fitted without a fold, that fold labelled), on what a person sees:
each held-out ticket's top results plus its known links.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ticketsim.evaluation.metrics import Ranking
from ticketsim.thresholds import LABELS, describe

MAX_CURVE_POINTS = 200
MAX_DIST_POINTS = 3000
LABEL_FOLDS = 5  # folds of queries for the cross-fitted label precision / recall
# (scores, kinds) -> (duplicate cut, related cut), or None when these pairs cannot be fitted
Fitter = Callable[[np.ndarray, Sequence[str]], "tuple[float, float] | None"]


@dataclasses.dataclass
class PairSet:
    """Labelled ticket pairs (corpus indices) with their kind and where they came from."""

    a: np.ndarray  # the query ticket
    b: np.ndarray
    label: np.ndarray  # 1 linked, 0 not
    kind: list[str]  # duplicate / related (links), topic (same related_fields), negative
    source: list[str]  # link / hard / random / labelled
    shown: np.ndarray | None = None  # among the query's top results (what a person sees)

    def __len__(self) -> int:
        return len(self.a)

    def truth(self) -> np.ndarray:
        """The label each pair deserves: duplicate, related (link or topic) or unrelated."""
        kind = np.asarray(self.kind, dtype=object)
        return np.where(kind == "duplicate", "duplicate",
                        np.where(np.isin(kind, ("related", "topic")), "related", "unrelated"))


def topic_keys(columns: Sequence[np.ndarray]) -> np.ndarray | None:
    """One key per ticket from its ``related_fields`` values ("" when any is empty); None if all are."""
    if not columns:
        return None
    parts = [np.array([str(v).strip() for v in c], dtype=object) for c in columns]
    key = parts[0].copy()
    empty = key == ""
    for c in parts[1:]:
        key = key + "\x1f" + c
        empty |= c == ""
    key[empty] = ""
    return key if (~empty).any() else None


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
    topic: np.ndarray | None = None,
) -> PairSet:
    """Pairs for one model: its own hard negatives, so each model is judged on what it ranks high.

    ``topic`` (one key per ticket, "" unknown): an unlinked pair with the same non-empty key
    is kind ``topic`` (related, not a duplicate) instead of ``negative``.
    """
    rng = np.random.default_rng(seed)
    a: list[int] = []
    b: list[int] = []
    label: list[int] = []
    kind: list[str] = []
    source: list[str] = []
    shown: list[bool] = []

    def add(x: int, y: int, lab: int, k: str, src: str, seen: bool) -> None:
        if k == "negative" and topic is not None and topic[x] and topic[x] == topic[y]:
            k = "topic"
        a.append(x)
        b.append(y)
        label.append(lab)
        kind.append(k)
        source.append(src)
        shown.append(seen)

    for q, hits, rel in zip(ranking.query_idx, ranking.top, relevant_kind, strict=True):
        top = {c for c, _ in hits[:top_k]}
        for r, k in rel.items():
            add(q, r, 1, k, "link", r in top)
        n_hard = 0
        for c, _ in hits:
            if n_hard >= top_k:
                break
            if c in rel or frozenset((q, c)) in known:
                continue
            add(q, c, 0, "negative", "hard", c in top)
            n_hard += 1
        tries = 0
        n_rand = 0
        while n_rand < random_per_query and tries < 20 * max(1, random_per_query) and n_corpus > 1:
            tries += 1
            c = int(rng.integers(0, n_corpus))
            if c == q or c in rel or frozenset((q, c)) in known:
                continue
            add(q, c, 0, "negative", "random", c in top)
            n_rand += 1
    for x, y in labelled_negatives:
        add(x, y, 0, "negative", "labelled", False)
    return PairSet(np.array(a, dtype=np.int64), np.array(b, dtype=np.int64),
                   np.array(label, dtype=np.int64), kind, source, np.array(shown, dtype=bool))


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


def _best_f1(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float, float, float]:
    from sentence_transformers.sentence_transformer.evaluation import BinaryClassificationEvaluator

    f1, prec, rec, thr = BinaryClassificationEvaluator.find_best_f1_and_threshold(scores, labels, True)
    return float(f1), float(prec), float(rec), float(thr)


def _youden(scores: np.ndarray, labels: np.ndarray) -> float:
    """The cut that best separates the two classes (max TPR - FPR), whatever their proportions."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(labels, scores)
    i = 1 + int(np.argmax((tpr - fpr)[1:]))  # thr[0] is above every score
    return float(thr[i])


NEVER = 1.0 + 1e-6  # a cosine cut no pair reaches: the label is never given


def fit_thresholds(scores: np.ndarray, kind: Sequence[str], *, target_precision: float,
                   threshold_rule: str, related_rule: str = "youden",
                   unreachable: str = "none") -> dict[str, Any] | None:
    """The duplicate and related cuts for these pairs (None without both linked and unlinked).

    duplicate: duplicate links (every link when none is of kind duplicate) against unlinked
    and topic pairs, at ``threshold_rule``; related links take no part. When no cut reaches
    the target precision, ``unreachable="none"`` gives no duplicate label at all (:data:`NEVER`;
    the best-F1 fallback labelled 96 % of the demo's shown results duplicate at precision 0.16
    with the base model), ``"f1"`` falls back to the best-F1 cut.
    related: the cut that best separates duplicate + related + topic pairs from unrelated ones
    (``related_rule="youden"``: max TPR - FPR; ``"f1"``: best F1, which calls nearly every
    result related where most results share a topic), never above the duplicate cut; with
    neither related links nor topic pairs, the cut that keeps 9 in 10 duplicates (nothing
    defines "related" then, so it is not measured).
    """
    kinds = np.asarray(kind, dtype=object)
    dup, rel, top = kinds == "duplicate", kinds == "related", kinds == "topic"
    neg = kinds == "negative"
    pos = dup if dup.any() else (dup | rel)
    m = pos | neg | top
    s, y = scores[m], pos[m].astype(np.int64)
    if y.sum() == 0 or (1 - y).sum() == 0:
        return None
    f1 = _best_f1(s, y)
    at_p = precision_threshold(s, y, target_precision)
    use_p = threshold_rule == "precision" and at_p["reached"]
    if use_p:
        chosen, rule = float(at_p["threshold"]), "precision"
    elif threshold_rule == "precision" and unreachable == "none":
        chosen, rule = NEVER, "none: no cut reaches the target precision"
    else:
        chosen, rule = f1[3], "f1"
    out: dict[str, Any] = {"duplicate": chosen, "rule": rule,
                           "best_f1": f1, "at_target_precision": at_p, "s": s, "y": y}
    related_pos = dup | rel | top
    if (rel | top).any() and neg.any():
        yr = related_pos.astype(np.int64)
        thr_rel = _youden(scores, yr) if related_rule == "youden" else _best_f1(scores, yr)[3]
        out["related_rule"] = (("max TPR-FPR" if related_rule == "youden" else "best F1")
                               + " of duplicate + related pairs (links"
                               + (", same category fields" if top.any() else "")
                               + ") vs unrelated")
        out["related_measurable"] = True
    else:
        thr_rel = float(np.quantile(s[y == 1], 0.1))
        out["related_rule"] = "nothing defines related here: the cut that keeps 9 in 10 duplicates"
        out["related_measurable"] = False
    out["related"] = float(min(thr_rel, chosen))
    return out


def assign(scores: np.ndarray, duplicate: float, related: float) -> np.ndarray:
    """The label of each score under these cuts (as :meth:`Thresholds.label` does)."""
    return np.where(scores >= duplicate, "duplicate",
                    np.where(scores >= related, "related", "unrelated"))


def label_stats(
    scores: np.ndarray,
    pairs: PairSet,
    fold_of: dict[int, int],
    *,
    target_precision: float,
    threshold_rule: str,
    min_positives: int,
    related_truth: str,
    fitter: Fitter | None = None,
) -> dict[str, dict[str, Any]]:
    """Cross-fitted precision and recall of each label on what a person sees.

    Thresholds are fitted (by ``fitter``, default :func:`fit_thresholds`) on the pairs of
    all query folds but one and applied to that fold; counts are pooled over folds.
    Measured on each query's shown results plus its known links. ``fold_of``: fold of each
    query ticket (all of one link cluster share one).
    """
    if fitter is None:
        def fitter(sc: np.ndarray, kinds: Sequence[str]) -> tuple[float, float] | None:
            fit = fit_thresholds(sc, kinds, target_precision=target_precision,
                                 threshold_rule=threshold_rule)
            return None if fit is None else (fit["duplicate"], fit["related"])
    pred = np.full(len(pairs), "", dtype=object)
    folds = sorted(set(fold_of.values()))
    qfold = np.array([fold_of.get(int(q), -1) for q in pairs.a], dtype=np.int64)
    for f in folds if len(folds) >= 2 else []:
        train = qfold != f
        cuts = fitter(scores[train], [k for k, t in zip(pairs.kind, train, strict=True) if t])
        if cuts is not None:
            test = qfold == f
            pred[test] = assign(scores[test], *cuts)
    shown = pairs.shown if pairs.shown is not None else np.ones(len(pairs), dtype=bool)
    src = np.asarray(pairs.source, dtype=object)
    seen = (shown | np.isin(src, ("link", "labelled"))) & (pred != "")
    truth = pairs.truth()[seen]
    pred = pred[seen]
    kind = np.asarray(pairs.kind, dtype=object)[seen]
    n_queries = len({int(q) for q in pairs.a[seen]})
    has_related = bool(np.isin(kind, ("related", "topic")).any())
    out: dict[str, dict[str, Any]] = {}
    for lab in LABELS:
        if lab == "duplicate":
            labelled, good, true = pred == "duplicate", truth == "duplicate", truth == "duplicate"
            found = true & labelled
        elif lab == "related":
            labelled, good = pred == "related", truth != "unrelated"
            true = truth != "unrelated"
            found = true & (pred != "unrelated")
        else:
            labelled, good = pred == "unrelated", truth == "unrelated"
            true = truth == "unrelated"
            found = true & labelled
        st: dict[str, Any] = {
            "labelled": int(labelled.sum()), "correct": int((labelled & good).sum()),
            "true": int(true.sum()), "found": int(found.sum()), "queries": n_queries,
            "truth": {"duplicate": "a known duplicate link",
                      "related": related_truth if has_related else "",
                      "unrelated": "neither"}[lab],
        }
        st["precision"] = st["correct"] / st["labelled"] if st["labelled"] else None
        st["recall"] = st["found"] / st["true"] if st["true"] else None
        n_pos = int((truth == "duplicate").sum()) if lab == "duplicate" else int(
            np.isin(kind, ("related", "topic")).sum()) if lab == "related" else st["true"]
        if len(folds) < 2:
            st["measured"], st["why_not"] = False, "too few link clusters to fit on some and test on others"
        elif lab == "related" and not has_related:
            st["measured"], st["why_not"] = False, "no related links and no categories define related"
        elif n_pos < min_positives:
            st["measured"] = False
            st["why_not"] = f"only {n_pos} held-out {lab} pairs (fewer than {min_positives})"
        else:
            st["measured"], st["why_not"] = True, ""
        st["words"] = describe(lab, st)
        out[lab] = st
    return out


def fit_decision(
    scores: np.ndarray,
    pairs: PairSet,
    *,
    target_precision: float,
    threshold_rule: str,
    seed: int = 0,
    fold_of: dict[int, int] | None = None,
    min_positives: int = 10,
    related_truth: str = "a known related link",
) -> dict[str, Any]:
    """Thresholds, AP, calibration and the measured meaning of each label for one model's scores."""
    from sklearn.metrics import average_precision_score, brier_score_loss

    kind = np.asarray(pairs.kind)
    out: dict[str, Any] = {
        "n_pairs": len(pairs), "n_duplicate": int((kind == "duplicate").sum()),
        "n_related": int((kind == "related").sum()), "n_topic": int((kind == "topic").sum()),
        "n_negative": int((kind == "negative").sum()),
        "negatives_by_source": {s: int(sum(1 for x, k in zip(pairs.source, pairs.kind, strict=True)
                                           if x == s and k in ("negative", "topic")))
                                for s in ("hard", "random", "labelled")},
    }
    fit = fit_thresholds(scores, pairs.kind, target_precision=target_precision,
                         threshold_rule=threshold_rule)
    if fit is None:
        out["error"] = "need both linked and unlinked pairs"
        return out
    s, y = fit["s"], fit["y"]
    f1, prec, rec, thr_f1 = fit["best_f1"]
    a, b = calibrate(s, y)
    prob = 1.0 / (1.0 + np.exp(-np.clip(a * s + b, -60, 60)))
    out.update({
        "average_precision": float(average_precision_score(y, s)),
        "best_f1": {"threshold": thr_f1, "f1": f1, "precision": prec, "recall": rec},
        "at_target_precision": {"target": target_precision, **fit["at_target_precision"]},
        "threshold_rule": fit["rule"],
        "duplicate_threshold": fit["duplicate"],
        "related_threshold": fit["related"],
        "related_rule": fit["related_rule"],
        "calibration": {"a": a, "b": b, "brier": float(brier_score_loss(y, prob))},
        "pr_curve": _curve(s, y),
        "scores_linked": _sample(s[y == 1], seed),
        "scores_unlinked": _sample(s[y == 0], seed + 1),
    })
    if fold_of is None:
        fold_of = {int(q): i % LABEL_FOLDS for i, q in enumerate(sorted({int(x) for x in pairs.a}))}
    out["labels"] = label_stats(scores, pairs, fold_of, target_precision=target_precision,
                                threshold_rule=threshold_rule, min_positives=min_positives,
                                related_truth=related_truth)
    if fit["duplicate"] >= NEVER:
        st = out["labels"]["duplicate"]
        st["measured"] = False
        st["why_not"] = (f"never given: no cosine cut reaches precision {target_precision:g} on "
                         "held-out pairs")
        st["words"] = describe("duplicate", st)
    return out
