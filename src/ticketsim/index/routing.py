"""Routing suggestions: category, subcategory and assignment group for a new ticket.

A SetFit-style head: one scikit-learn ``LogisticRegression`` per label field on the
sentence embeddings of the index's model, trained by the index stage on the history's
labelled tickets and stored next to the index (``routing.npz`` + ``routing.json``,
stamped with the model's weights fingerprint). Serving needs no scikit-learn and no
pickle: the head is its coefficients, and a suggestion is one matrix product and a
softmax over the query vector search already embeds. On the Endava tickets it beats kNN
voting on the same embeddings and TF-IDF + logistic regression (bench/routing.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ticketsim.rundir import atomic_write_json

WEIGHTS = "routing.npz"
META = "routing.json"
MIN_LABELLED = 10  # fewer labelled tickets in a field: no head for it


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.atleast_2d(np.asarray(x, dtype=np.float32))
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def labelled(values: Any) -> np.ndarray:
    """Mask of usable labels (not empty, not NaN / None)."""
    vals = np.asarray(values, dtype=object)
    return np.array([v is not None and str(v).strip() not in ("", "nan", "None", "NaN")
                     for v in vals], dtype=bool)


@dataclass
class Head:
    """A fitted multinomial logistic regression as plain arrays (classes, weights, bias)."""

    classes: np.ndarray  # (C,) str
    coef: np.ndarray  # (C, d), or (1, d) for two classes (scikit-learn's binary layout)
    intercept: np.ndarray  # (C,) or (1,)

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities, (n, C), exactly as ``LogisticRegression.predict_proba``."""
        z = _unit(x) @ self.coef.T.astype(np.float32) + self.intercept.astype(np.float32)
        if self.coef.shape[0] == 1:  # binary: sigmoid of the one decision function
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1.0 - p1, p1], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


def fit_head(vectors: np.ndarray, labels: Any, c: float, seed: int = 0) -> Head | None:
    """One field's head on the labelled rows; None when fewer than two classes or too few rows."""
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(labels, dtype=object)
    has = labelled(labels)
    y = np.array([str(v).strip() for v in labels[has]], dtype=object)
    if has.sum() < MIN_LABELLED or len(set(y)) < 2:
        return None
    clf = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    clf.fit(_unit(vectors[has]), y)
    return Head(np.asarray(clf.classes_, dtype=str), np.asarray(clf.coef_, dtype=np.float32),
                np.asarray(clf.intercept_, dtype=np.float32))


class Router:
    """The heads of one index, and their suggestions for query vectors."""

    def __init__(self, heads: dict[str, Head], fingerprint: str,
                 info: dict[str, Any] | None = None) -> None:
        self.heads = heads
        self.fingerprint = fingerprint
        self.info = info or {}

    @classmethod
    def fit(cls, vectors: np.ndarray, fields: dict[str, Any], *, c: float,
            fingerprint: str) -> Router | None:
        """A head per field with enough labels; None when no field has any."""
        heads: dict[str, Head] = {}
        info: dict[str, Any] = {"c": c, "heads": {}}
        for name, values in fields.items():
            head = fit_head(vectors, values, c)
            if head is not None:
                heads[name] = head
                info["heads"][name] = {"classes": len(head.classes),
                                        "labelled": int(labelled(values).sum())}
        return cls(heads, fingerprint, info) if heads else None

    def predict_proba(self, vectors: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per field: (classes, probabilities (n, C))."""
        return {f: (h.classes, h.proba(vectors)) for f, h in self.heads.items()}

    def suggest(self, vector: np.ndarray) -> dict[str, dict[str, Any]]:
        """Per field: the most probable value and its probability, for one query vector."""
        out = {}
        for f, (classes, p) in self.predict_proba(vector).items():
            j = int(np.argmax(p[0]))
            out[f] = {"value": str(classes[j]), "probability": round(float(p[0, j]), 4)}
        return out

    # ------------------------------------------------------------------ files
    def save(self, folder: Path) -> None:
        """routing.npz (arrays, no pickle) and routing.json (fields, classes, fingerprint)."""
        arrays: dict[str, np.ndarray] = {}
        for i, h in enumerate(self.heads.values()):
            arrays[f"classes_{i}"], arrays[f"coef_{i}"], arrays[f"intercept_{i}"] = (
                h.classes, h.coef, h.intercept)
        tmp = folder / (WEIGHTS + ".tmp.npz")
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        tmp.replace(folder / WEIGHTS)
        atomic_write_json(folder / META, {"model_fingerprint": self.fingerprint,
                                          "fields": list(self.heads), **self.info})

    @classmethod
    def load(cls, folder: Path, expect_fingerprint: str | None = None) -> Router | None:
        """The index's router; None when it has none or it belongs to another model."""
        meta_path, weights = folder / META, folder / WEIGHTS
        if not meta_path.is_file() or not weights.is_file():
            return None
        meta = json.loads(meta_path.read_text())
        if expect_fingerprint is not None and meta.get("model_fingerprint") != expect_fingerprint:
            return None
        with np.load(weights, allow_pickle=False) as z:
            heads = {f: Head(z[f"classes_{i}"], z[f"coef_{i}"], z[f"intercept_{i}"])
                     for i, f in enumerate(meta["fields"])}
        info = {k: v for k, v in meta.items() if k not in ("model_fingerprint", "fields")}
        return cls(heads, meta["model_fingerprint"], info)


def fields_of(tickets: Any, wanted: list[str]) -> dict[str, np.ndarray]:
    """The wanted label columns that exist in ``tickets`` (a DataFrame), as object arrays."""
    return {f: tickets[f].to_numpy(dtype=object) for f in wanted if f in tickets.columns}


def train_routing(folder: Path, vectors: np.ndarray, tickets: Any, icfg: Any,
                  fingerprint: str) -> dict[str, Any]:
    """The index stage's hook: fit and save the heads into ``folder``; what was trained."""
    router = Router.fit(np.asarray(vectors), fields_of(tickets, list(icfg.routing_fields)),
                        c=icfg.routing_c, fingerprint=fingerprint)
    if router is None:
        return {}
    router.save(folder)
    return dict(router.info["heads"])
