"""Routing suggestions: category, subcategory and assignment group for a new ticket.

One scikit-learn ``LogisticRegression`` per label field on the index's sentence
embedding of a ticket concatenated with the TF-IDF (word 1-2 grams) of its text,
trained by the index stage on the history's labelled tickets and stored next to the
index (``routing.npz`` + ``routing.json``, stamped with the model's weights
fingerprint). Why both: on the Endava tickets the embedding alone ties kNN voting and
loses to TF-IDF + LR on subcategories; the two together beat both (bench/routing.py).
Nothing is pickled: a head is its coefficients, the TF-IDF is its terms and idf, and a
suggestion is one sparse-dense product and a softmax (``index.routing_features:
embedding`` keeps the embedding-only head).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ticketsim.config import LEAD_CANDIDATE
from ticketsim.index.store import FILE as STORE_FILE
from ticketsim.index.store import TicketStore
from ticketsim.rundir import atomic_write_json

WEIGHTS = "routing.npz"
META = "routing.json"
MIN_LABELLED = 10  # fewer labelled tickets in a field: no head for it
NGRAMS = (1, 2)
MIN_DF = 2
KNN_K = 10  # neighbours voting, as evaluate.routing.k's default
# routing read with the lead (index.routing_lead_weight): the vote re-scores this many of the
# index's nearest tickets by the lead reading. Demo, fine-tuned model, 400 held-out tickets:
# 10 / 30 / 50 / all candidates gave category 0.655 / 0.703 / 0.713 / 0.720 (base model 0.698
# / 0.723 / 0.728 / 0.728); 50 costs one product with 50 stored rows per query
CANDIDATES = 50
VECTORS = "routing-vectors.npy"
# blend: the head's share of the suggestion; equal weight, not fitted to any data set (on the
# Endava validation slices 0.5 was best or within 0.4 points of the best of 0.25 / 0.5 / 0.75)
BLEND_WEIGHT = 0.5


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.atleast_2d(np.asarray(x, dtype=np.float32))
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def labelled(values: Any) -> np.ndarray:
    """Mask of usable labels (not empty, not NaN / None)."""
    vals = np.asarray(values, dtype=object)
    return np.array([v is not None and str(v).strip() not in ("", "nan", "None", "NaN")
                     for v in vals], dtype=bool)


@dataclass
class TextFeatures:
    """TF-IDF of word 1-2 grams (sublinear tf, l2 rows) as plain arrays: terms and idf."""

    terms: np.ndarray  # (V,) str, column order
    idf: np.ndarray  # (V,)

    @classmethod
    def fit(cls, texts: list[str], max_terms: int) -> TextFeatures | None:
        """Terms seen in at least two texts (the ``max_terms`` most frequent); None when none."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(ngram_range=NGRAMS, sublinear_tf=True, min_df=MIN_DF,
                              max_features=max_terms, dtype=np.float32)
        try:
            vec.fit(texts)
        except ValueError:  # too few texts / no term left after min_df
            return None
        return cls(np.asarray(vec.get_feature_names_out(), dtype=str),
                   np.asarray(vec.idf_, dtype=np.float32))

    def transform(self, texts: list[str]) -> Any:
        """(n, V) sparse rows, equal to the fitted ``TfidfVectorizer.transform``."""
        vec = self.__dict__.get("_vec")
        if vec is None:  # built once per router: a query then costs one transform
            from sklearn.feature_extraction.text import TfidfVectorizer

            vec = TfidfVectorizer(ngram_range=NGRAMS, sublinear_tf=True, dtype=np.float32,
                                  vocabulary={str(t): i for i, t in enumerate(self.terms)})
            vec.idf_ = self.idf
            self.__dict__["_vec"] = vec
        return vec.transform(texts)


def features(vectors: np.ndarray, texts: list[str] | None, text: TextFeatures | None) -> Any:
    """What a head reads: unit embeddings, then (when the router has them) TF-IDF columns."""
    x = _unit(vectors)
    if text is None:
        return x
    if texts is None or len(texts) != len(x):
        raise ValueError("this routing model reads the ticket text too: pass one text per vector")
    from scipy.sparse import csr_matrix, hstack

    return hstack([csr_matrix(x), text.transform(list(texts))], format="csr")


@dataclass
class Head:
    """A fitted multinomial logistic regression as plain arrays (classes, weights, bias)."""

    classes: np.ndarray  # (C,) str
    coef: np.ndarray  # (C, d), or (1, d) for two classes (scikit-learn's binary layout)
    intercept: np.ndarray  # (C,) or (1,)

    def proba(self, x: Any) -> np.ndarray:
        """Class probabilities, (n, C), as ``LogisticRegression.predict_proba`` on ``features``
        (a bare embedding matrix is unit-normalised here)."""
        if isinstance(x, np.ndarray):
            x = _unit(x)
        z = np.asarray(x @ self.coef.T.astype(np.float32, copy=False)) + self.intercept
        if self.coef.shape[0] == 1:  # binary: sigmoid of the one decision function
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1.0 - p1, p1], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


def fit_head(x: Any, labels: Any, c: float, seed: int = 0) -> Head | None:
    """One field's head on the labelled rows of ``x`` (embeddings, or ``features``); None when
    fewer than two classes or too few rows."""
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(labels, dtype=object)
    has = labelled(labels)
    y = np.array([str(v).strip() for v in labels[has]], dtype=object)
    if has.sum() < MIN_LABELLED or len(set(y)) < 2:
        return None
    if isinstance(x, np.ndarray):
        x = _unit(x)
    clf = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    clf.fit(x[np.flatnonzero(has)], y)
    return Head(np.asarray(clf.classes_, dtype=str), np.asarray(clf.coef_, dtype=np.float32),
                np.asarray(clf.intercept_, dtype=np.float32))


def vote_shares(labels: list[Any], scores: list[float]) -> dict[str, float]:
    """Similarity-weighted vote of neighbours' labels (as evaluate's kNN routing): each value's
    share of the votes, in the order the values first appear; empty when none is labelled."""
    votes: dict[str, float] = {}
    for lab, sc in zip(labels, scores, strict=True):
        if labelled([lab])[0]:
            key = str(lab).strip()
            votes[key] = votes.get(key, 0.0) + max(float(sc), 0.0) + 1e-6
    total = sum(votes.values())
    return {k: v / total for k, v in votes.items()}


def winner(shares: dict[str, float]) -> tuple[str, float] | None:
    """The value with the most votes and its share (the first seen on a tie); None if none."""
    return max(shares.items(), key=lambda kv: kv[1]) if shares else None


def vote(labels: list[Any], scores: list[float]) -> tuple[str, float] | None:
    """The vote's winner and its share; None when no neighbour is labelled."""
    return winner(vote_shares(labels, scores))


def winners(shares: list[dict[str, float]]) -> np.ndarray:
    """Each row's winning value ("" without a labelled neighbour), as an object array."""
    return np.array([(winner(sh) or ("", 0.0))[0] for sh in shares], dtype=object)


def blended(head_p: np.ndarray, classes: np.ndarray, shares: list[dict[str, float]],
            ) -> np.ndarray:
    """``routing_features: blend``: the head's probabilities and the kNN vote's shares over the
    head's classes, averaged with equal weight (rows still sum to one when every voted value
    is a class; a row without a labelled neighbour keeps the head's)."""
    col = {str(c): j for j, c in enumerate(classes)}
    vote_p = np.zeros_like(head_p)
    for i, row in enumerate(shares):
        if not row:
            vote_p[i] = head_p[i]
        for lab, share in row.items():
            if lab in col:
                vote_p[i, col[lab]] += share
    return BLEND_WEIGHT * head_p + (1.0 - BLEND_WEIGHT) * vote_p


def knn_shares(vectors: np.ndarray, labels: np.ndarray, train: np.ndarray, pred: np.ndarray,
               k: int, routing: np.ndarray | None = None) -> list[dict[str, float]]:
    """The vote shares of each ``pred`` row's ``k`` nearest labelled ``train`` rows (unit
    cosine), as :func:`vote_shares`. With ``routing`` (the lead reading of the same rows): the
    ``CANDIDATES`` nearest by ``vectors`` (what the index returns) re-scored by ``routing``,
    as :meth:`Searcher.route` serves it."""
    x = _unit(vectors)
    r = None if routing is None else _unit(routing)
    train = train[labelled(labels[train])]
    out: list[dict[str, float]] = []
    for start in range(0, len(pred), 512):
        rows = pred[start:start + 512]
        s = x[rows] @ x[train].T
        top = np.argsort(-s, axis=1, kind="stable")[:, :k if r is None else CANDIDATES]
        if r is not None:
            for i, cand in enumerate(top):
                near = rescore(r[rows[i]], train[cand], r[train[cand]], k)
                out.append(vote_shares([labels[j] for j, _ in near], [sc for _, sc in near]))
            continue
        out += [vote_shares([labels[train[j]] for j in row], [s[i, j] for j in row])
                for i, row in enumerate(top)]
    return out


def rescore(query: np.ndarray, keys: Any, rows: np.ndarray, k: int) -> list[tuple[Any, float]]:
    """The ``k`` of ``keys`` nearest to ``query`` by the routing reading (``rows``: their unit
    vectors in that reading), best first."""
    s = np.asarray(rows, dtype=np.float32) @ np.asarray(query, dtype=np.float32).ravel()
    best = np.argsort(-s, kind="stable")[:k]
    return [(keys[j], float(s[j])) for j in best]


def choose(vectors: np.ndarray, texts: list[str], labels: Any, order: np.ndarray, c: float,
           max_terms: int, k: int = KNN_K, routing: np.ndarray | None = None,
           tfidf: bool = True) -> dict[str, Any]:
    """``routing_features: auto`` for one field: the kNN vote, the embedding + TF-IDF head or
    their blend, whichever is most accurate (a tie: :func:`pick`) on the newest
    fifth of the labelled tickets (``order``: oldest first) when fitted on the older ones.
    Tickets drift (new wording, new products): the newest ones are the honest stand-in for
    tomorrow's. ``routing``: read with the lead (the head reads it, the vote re-scores the
    index's candidates by it, :func:`knn_shares`); ``tfidf`` False: the head on the
    embedding alone."""
    labels = np.asarray(labels, dtype=object)
    rows = order[labelled(labels[order])]
    n_val = len(rows) // 5
    if n_val < 5 or len(rows) - n_val < MIN_LABELLED:
        return {"method": "head", "why": "too few labelled tickets to compare"}
    fit, val = rows[:-n_val], rows[-n_val:]
    y_val = np.array([str(v).strip() for v in labels[val]], dtype=object)
    shares = knn_shares(vectors, labels, fit, val, k, routing)
    acc = {"knn": float(np.mean(winners(shares) == y_val))}
    brier = {"knn": float(np.mean([sum(v * v for v in sh.values()) - 2 * sh.get(y, 0.0) + 1
                                   for sh, y in zip(shares, y_val, strict=True)]))}
    text = TextFeatures.fit([texts[i] for i in fit], max_terms) if tfidf else None
    x = vectors if routing is None else routing
    head = fit_head(features(x[fit], [texts[i] for i in fit], text), labels[fit], c)
    if head is not None:
        p = head.proba(features(x[val], [texts[i] for i in val], text))
        col = {str(cl): j for j, cl in enumerate(head.classes)}
        truth = np.zeros_like(p)
        for i, y in enumerate(y_val):
            if y in col:
                truth[i, col[y]] = 1.0
        for name, q in (("head", p), ("blend", blended(p, head.classes, shares))):
            acc[name] = float(np.mean(head.classes[np.argmax(q, axis=1)].astype(object) == y_val))
            brier[name] = float(np.mean(((q - truth) ** 2).sum(axis=1)))
    return {"method": pick(acc, brier), "validation_accuracy": {m: round(a, 4) for m, a in acc.items()},
            "validation_brier": {m: round(b, 4) for m, b in brier.items()},
            "validation": int(n_val)}


def pick(accuracy: dict[str, float], brier: dict[str, float]) -> str:
    """The most accurate method; on a tie the one whose probabilities are closer to the truth
    (lower Brier score: the suggestion's share is shown to people, and a proper score breaks
    ties that counting right answers cannot); then the simpler: the vote (no coefficients, and
    it follows tickets added since the index), then the head."""
    return max(accuracy, key=lambda m: (accuracy[m], -brier[m], -("knn", "head", "blend").index(m)))


class Router:
    """The heads of one index (and its TF-IDF terms), and their suggestions for new tickets;
    fields in ``knn`` are suggested by a vote of the query's ``k`` nearest indexed tickets,
    fields in ``blend`` by their head averaged with that vote (:func:`blended`). With
    ``lead_weight`` > 0 the router reads tickets with the lead (``index.routing_lead_weight``):
    ``vectors`` holds that reading of every indexed ticket by key, as of the store's ``seq``."""

    def __init__(self, heads: dict[str, Head], fingerprint: str,
                 info: dict[str, Any] | None = None, text: TextFeatures | None = None,
                 knn: dict[str, int] | None = None, blend: dict[str, int] | None = None,
                 lead_weight: float = 0.0, vectors: np.ndarray | None = None,
                 seq: int = 0) -> None:
        self.heads = heads
        self.fingerprint = fingerprint
        self.info = info or {}
        self.text = text
        self.knn = knn or {}
        self.blend = {f: k for f, k in (blend or {}).items() if f in heads}
        self.lead_weight = lead_weight
        self.vectors = vectors
        self.seq = seq

    @property
    def neighbours_needed(self) -> int:
        """How many nearest indexed tickets :meth:`suggest` reads (0: none)."""
        return max([*self.knn.values(), *self.blend.values()], default=0)

    @property
    def candidates(self) -> int:
        """How many of the index's nearest tickets to ask for: the voters, or with the lead
        reading the ``CANDIDATES`` it re-scores (:func:`knn_shares`)."""
        need = self.neighbours_needed
        return max(need, CANDIDATES) if need and self.lead_weight else need

    def rows(self, keys: list[int], seqs: dict[int, int],
             fresh: Any) -> np.ndarray:
        """The routing reading of indexed tickets ``keys``: stored rows, and for tickets added
        or changed since the index was built (``seqs``: each key's store sequence number),
        ``fresh(keys)``."""
        known = self.vectors
        n = 0 if known is None else len(known)
        ok = [i for i, k in enumerate(keys) if k < n and seqs.get(k, self.seq + 1) <= self.seq]
        out = np.zeros((len(keys), 0 if known is None else known.shape[1]), dtype=np.float32)
        if ok:
            out[ok] = np.asarray(known[[keys[i] for i in ok]], dtype=np.float32)  # type: ignore[index]
        stale = sorted(set(range(len(keys))) - set(ok))
        if stale:
            got = np.asarray(fresh([keys[i] for i in stale]), dtype=np.float32)
            out = out if out.shape[1] else np.zeros((len(keys), got.shape[1]), dtype=np.float32)
            out[stale] = got
        return out

    @property
    def fields(self) -> list[str]:
        return [*self.heads, *self.knn]

    @classmethod
    def fit(cls, vectors: np.ndarray, fields: dict[str, Any], *, c: float, fingerprint: str,
            texts: list[str] | None = None, max_terms: int = 50000,
            knn: dict[str, int] | None = None, blend: dict[str, int] | None = None,
            ) -> Router | None:
        """A head per field with enough labels (fields in ``knn``: a kNN vote instead; in
        ``blend``: the head and the vote); None when no field has any. With ``texts`` the heads
        also read their TF-IDF (terms fitted on all of them)."""
        knn = {f: k for f, k in (knn or {}).items() if f in fields
               and len({str(v).strip() for v in np.asarray(fields[f], dtype=object)[
                   labelled(fields[f])]}) >= 2}
        text = TextFeatures.fit(list(texts), max_terms) if texts is not None else None
        x = features(vectors, texts, text)
        heads: dict[str, Head] = {}
        info: dict[str, Any] = {"c": c, "features": "embedding+tfidf" if text else "embedding",
                                "terms": 0 if text is None else len(text.terms), "heads": {}}
        for name, values in fields.items():
            if name in knn:
                info["heads"][name] = {"knn": knn[name],
                                        "labelled": int(labelled(values).sum())}
                continue
            head = fit_head(x, values, c)
            if head is not None:
                heads[name] = head
                info["heads"][name] = {"classes": len(head.classes),
                                        "labelled": int(labelled(values).sum())}
        return cls(heads, fingerprint, info, text, knn, blend) if heads or knn else None

    def predict_proba(self, vectors: np.ndarray, texts: list[str] | None = None,
                      ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per field: (classes, probabilities (n, C))."""
        x = features(vectors, texts, self.text)
        return {f: (h.classes, h.proba(x)) for f, h in self.heads.items()}

    def suggest(self, vector: np.ndarray, text: str | None = None,
                neighbours: list[tuple[dict[str, Any], float]] | None = None,
                ) -> dict[str, dict[str, Any]]:
        """Per field: the most probable value and its probability (kNN fields: its share of the
        votes of ``neighbours``, (record, cosine) best first; blend fields: the average of the
        two), for one new ticket."""
        out = {}
        texts = None if text is None else [text]
        probs = self.predict_proba(vector, texts) if self.heads else {}
        for f in self.fields:
            if f in self.heads:
                classes, p = probs[f]
                if f in self.blend:
                    near = (neighbours or [])[: self.blend[f]]
                    p = blended(p, classes, [vote_shares([r.get(f) for r, _ in near],
                                                         [s for _, s in near])])
                j = int(np.argmax(p[0]))
                out[f] = {"value": str(classes[j]), "probability": round(float(p[0, j]), 4)}
                continue
            near = (neighbours or [])[: self.knn[f]]
            got = vote([r.get(f) for r, _ in near], [s for _, s in near])
            if got is not None:
                out[f] = {"value": got[0], "probability": round(got[1], 4)}
        return out

    # ------------------------------------------------------------------ files
    def save(self, folder: Path) -> None:
        """routing.npz (arrays, no pickle) and routing.json (fields, classes, fingerprint)."""
        arrays: dict[str, np.ndarray] = {}
        for i, h in enumerate(self.heads.values()):
            arrays[f"classes_{i}"], arrays[f"coef_{i}"], arrays[f"intercept_{i}"] = (
                h.classes, h.coef, h.intercept)
        if self.text is not None:
            arrays["terms"], arrays["idf"] = self.text.terms, self.text.idf
        tmp = folder / (WEIGHTS + ".tmp.npz")
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        tmp.replace(folder / WEIGHTS)
        if self.lead_weight and self.vectors is not None and self.neighbours_needed:  # mmap
            with open(folder / (VECTORS + ".tmp"), "wb") as fh:
                np.save(fh, np.ascontiguousarray(self.vectors, dtype=np.float32))
            (folder / (VECTORS + ".tmp")).replace(folder / VECTORS)
        atomic_write_json(folder / META, {"model_fingerprint": self.fingerprint,
                                          "fields": list(self.heads), "knn": self.knn,
                                          "blend": self.blend, "lead_weight": self.lead_weight,
                                          "seq": self.seq, **self.info})

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
            text = TextFeatures(z["terms"], z["idf"]) if "terms" in z.files else None
        info = {k: v for k, v in meta.items()
                if k not in ("model_fingerprint", "fields", "knn", "blend", "lead_weight", "seq")}
        lead = float(meta.get("lead_weight") or 0.0)
        vectors = (np.load(folder / VECTORS, mmap_mode="r", allow_pickle=False)
                   if lead and (folder / VECTORS).is_file() else None)
        return cls(heads, meta["model_fingerprint"], info, text, meta.get("knn") or {},
                   meta.get("blend") or {}, lead, vectors, int(meta.get("seq") or 0))


def fields_of(tickets: Any, wanted: list[str]) -> dict[str, np.ndarray]:
    """The wanted label columns that exist in ``tickets`` (a DataFrame), as object arrays."""
    return {f: tickets[f].to_numpy(dtype=object) for f in wanted if f in tickets.columns}


def age_order(tickets: Any, seed: int = 0) -> np.ndarray:
    """Row positions oldest first (by ``created``; undated ones and ties in a seeded order)."""
    import pandas as pd

    n = len(tickets)
    rnd = np.random.default_rng(seed).permutation(n)
    if "created" not in tickets.columns:
        return rnd
    created = pd.to_datetime(tickets["created"], errors="coerce", utc=True)
    stamp = created.astype("int64").to_numpy().astype(np.float64)
    stamp[created.isna().to_numpy()] = -np.inf  # undated: treated as old, never validation
    return np.lexsort((np.argsort(rnd), stamp))


def routing_lead(icfg: Any, index_lead: float) -> float:
    """The lead weight of the router's other reading (``index.routing_lead_weight``; auto:
    ``LEAD_CANDIDATE``); 0 when it is off, when the index already reads with the lead view, or
    when the index takes its vectors from ``ticketsim embed`` (``index.embeddings``: the index
    stage would re-embed what the shards exist to avoid). The index stage, evaluate, the
    estimate and bench/routing all ask here."""
    w = icfg.routing_lead_weight
    if index_lead > 0 or getattr(icfg, "embeddings", None) is not None or not icfg.routing:
        return 0.0
    return LEAD_CANDIDATE if w == "auto" else float(w)


_MODE_METHOD = {"knn": "knn", "blend": "blend", "embedding+tfidf": "head", "embedding": "head"}


def _reading_scores(mode: str, chosen: dict[str, dict[str, Any]]) -> dict[str, float] | None:
    """Mean validation accuracy and Brier score over fields of the method each field would
    use; None when a field had too few labelled tickets to measure."""
    accs, briers = [], []
    for ch in chosen.values():
        acc = ch.get("validation_accuracy") or {}
        method = ch["method"] if mode == "auto" else _MODE_METHOD[mode]
        if method not in acc:
            return None
        accs.append(acc[method])
        briers.append(ch["validation_brier"][method])
    return {"accuracy": float(np.mean(accs)), "brier": float(np.mean(briers))} if accs else None


def prefer_lead(index: dict[str, float] | None, lead: dict[str, float] | None) -> bool:
    """``routing_lead_weight: auto``: read with the lead when its suggestions' mean validation
    Brier score is lower (a tie, or no measurement: as indexed). By the Brier score, not
    accuracy: the two readings' validation accuracies differed by one or two tickets on every
    data set measured, and picked the worse held-out reading twice in five (demo, Endava
    category); the Brier score reads every ticket's probability, not only whether the top value
    is right, and picked the better one four times in five (docs/search.md, "Routing reads the
    lead")."""
    return index is not None and lead is not None and lead["brier"] < index["brier"]


def fit_routing(vectors: np.ndarray, texts: list[str], fields: dict[str, Any], order: np.ndarray,
                icfg: Any, fingerprint: str, lead: np.ndarray | None = None,
                lead_weight: float = 0.0) -> Router | None:
    """The router ``index.routing_features`` asks for (``auto``: per field, the kNN vote, the
    embedding + TF-IDF head or their blend, chosen on the newest labelled tickets, see
    :func:`choose`). ``lead``: the same tickets read with the lead at ``lead_weight``
    (:func:`routing_lead`); ``index.routing_lead_weight`` auto routes with it when its
    suggestions have the lower Brier score on those newest tickets (mean over fields), a
    number always."""
    mode = icfg.routing_features
    enough = {f: v for f, v in fields.items() if labelled(v).sum() >= MIN_LABELLED}

    def select(routing: np.ndarray | None) -> dict[str, Any]:
        return {f: choose(vectors, texts, v, order, icfg.routing_c, icfg.routing_max_terms,
                          routing=routing, tfidf=mode != "embedding") for f, v in enough.items()}

    reading: dict[str, Any] = {"lead_weight": 0.0}
    chosen: dict[str, Any] = {}
    if lead is not None and lead_weight > 0:
        if icfg.routing_lead_weight == "auto":
            chosen, with_lead = select(None), select(lead)
            got = {"index": _reading_scores(mode, chosen), "lead": _reading_scores(mode, with_lead)}
            for what in ("accuracy", "brier"):
                reading[f"validation_{what}"] = {k: None if v is None else round(v[what], 4)
                                                 for k, v in got.items()}
            if prefer_lead(got["index"], got["lead"]):
                reading["lead_weight"], chosen = lead_weight, with_lead
        else:
            reading["lead_weight"] = lead_weight
    routing = lead if reading["lead_weight"] else None
    if mode == "auto":
        chosen = chosen or select(routing)
        knn = {f: KNN_K for f, ch in chosen.items() if ch["method"] == "knn"}
        blend = {f: KNN_K for f, ch in chosen.items() if ch["method"] == "blend"}
    else:
        chosen = {}
        knn = {f: KNN_K for f in fields} if mode == "knn" else {}
        blend = {f: KNN_K for f in fields} if mode == "blend" else {}
    with_text = mode in ("auto", "embedding+tfidf", "blend") and len(knn) < len(fields)
    router = Router.fit(np.asarray(vectors if routing is None else routing), fields,
                        c=icfg.routing_c, fingerprint=fingerprint,
                        texts=list(texts) if with_text else None,
                        max_terms=icfg.routing_max_terms, knn=knn, blend=blend)
    if router is not None:
        router.lead_weight = float(reading["lead_weight"])
        router.info["mode"] = mode
        router.info["reading"] = reading
        if chosen:
            router.info["selection"] = chosen
    return router


def train_routing(folder: Path, vectors: np.ndarray, tickets: Any, icfg: Any,
                  fingerprint: str, lead: np.ndarray | None = None,
                  lead_weight: float = 0.0) -> tuple[dict[str, Any], dict[str, Any]]:
    """The index stage's hook: fit and save the router into ``folder`` (the built index: its
    store maps ticket ids to keys); what was trained, per field, and how it reads. ``lead``: every ticket read with the
    lead at ``lead_weight`` (:func:`fit_routing`)."""
    router = fit_routing(np.asarray(vectors), tickets["text"].fillna("").astype(str).tolist(),
                         fields_of(tickets, list(icfg.routing_fields)), age_order(tickets),
                         icfg, fingerprint, lead, lead_weight)
    if router is None:
        return {}, {}
    if router.lead_weight and lead is not None:  # the reading of every ticket, by store key
        store = TicketStore(folder / STORE_FILE)
        try:
            key_of = dict(store.conn.execute("SELECT id, key FROM tickets").fetchall())
            router.seq = store.seq()
        finally:
            store.close()
        keys = np.array([key_of[str(i)] for i in tickets["id"]], dtype=np.int64)
        rows = np.zeros((int(keys.max()) + 1 if len(keys) else 0, lead.shape[1]), np.float32)
        rows[keys] = _unit(lead)
        router.vectors = rows
    router.save(folder)
    return dict(router.info["heads"]), dict(router.info["reading"])
