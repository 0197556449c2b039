"""Routing suggestions vs kNN voting and TF-IDF + logistic regression on held-out tickets.

Follows bench/run_all.py's contract. For each Endava file, a seeded 80/20 split of the
labelled tickets; every system learns from the same training tickets and predicts the
same held-out ones:

- ``suggest``: the served router (:mod:`ticketsim.index.routing`, the shipped ``index``
  defaults: ``routing_features: auto`` picks per field the kNN vote or the embedding +
  TF-IDF head on the newest fifth of the training tickets), fitted on the training tickets;
- ``suggest-tfidf``: the logistic-regression head on the embedding + TF-IDF of the text
  (``routing_features: embedding+tfidf``); ``--tune`` adds ``suggest-tuned``, the same head
  with C picked on a validation slice;
- ``suggest-emb``: the head on the embedding alone (``index.routing_features: embedding``);
- ``knn``: similarity-weighted vote of the 10 nearest training tickets on the same
  embeddings (what ``evaluate`` reports as routing, :mod:`ticketsim.evaluation.routing`);
- ``tfidf-lr``: TF-IDF (word 1-2 grams, sublinear tf) + logistic regression, C picked on
  the same validation slice.

Held-out accuracy and macro-F1 per field, with the paired bootstrap interval of the
suggestion's accuracy minus each baseline's (:mod:`ticketsim.evaluation.bootstrap`).
Data: ``all_tickets_subset.csv`` (5,431 tickets: category, sub_category1) and the
processed file (47,837 tickets: Topic_group; a 12,000-ticket sample unless ``--large``).
``--model NAME=PATH`` adds the suggestion and kNN on another model (a fine-tuned one), with
its suggestion's paired difference to the base model's (``vs_base_model``); ``--run RUN``
takes a run directory's tickets instead (``make demo``'s), held out as its
``pairs/split.parquet`` holds them out (evaluate's routing split), and its ``train/model``
as ``ft``.

    python -m bench.routing --out bench/results/routing.json [--large] [--model ft=runs/x/train/model]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import ENDAVA_FULL, ENDAVA_SUBSET, ROOT, emit

C_GRID = (1.0, 10.0, 100.0)
K = 10
SAMPLE = 12000
HELD_OUT: dict[str, np.ndarray] = {}  # data set -> its own held-out mask (--run)
ORDER: dict[str, np.ndarray] = {}  # data set -> rows oldest first (--run; else a seeded order)


def _datasets(large: bool, only: list[str] | None = None, run: Path | None = None,
              ) -> list[tuple[str, list[str], dict[str, np.ndarray]]]:
    import pandas as pd

    out = []
    if run is not None:  # a run directory's own tickets (e.g. make demo's): text + label columns
        t = pd.read_parquet(run / "ingest" / "tickets.parquet")
        split = pd.read_parquet(run / "pairs" / "split.parquet")
        test_ids = set(split.loc[split["split"] == "test", "id"].astype(str))
        HELD_OUT[f"run {run.name}"] = t["id"].astype(str).isin(test_ids).to_numpy()
        from ticketsim.index.routing import age_order

        ORDER[f"run {run.name}"] = age_order(t)
        out.append((f"run {run.name}", t["text"].fillna("").astype(str).tolist(),
                    {f: t[f].to_numpy(dtype=object) for f in ("category", "subcategory")
                     if f in t.columns}))
        return out
    if ENDAVA_SUBSET.is_file() and (not only or "subset" in only):
        df = pd.read_csv(ENDAVA_SUBSET, dtype=str, keep_default_na=False)
        texts = [f"{t}. {b}".strip(". ").strip() for t, b in zip(df["title"], df["body"], strict=True)]
        out.append(("endava-subset", texts, {"category": df["category"].to_numpy(dtype=object),
                                             "subcategory": df["sub_category1"].to_numpy(dtype=object)}))
    if ENDAVA_FULL.is_file() and (not only or "processed" in only):
        df = pd.read_csv(ENDAVA_FULL, dtype=str, keep_default_na=False)
        name = "endava-processed"
        if not large and len(df) > SAMPLE:
            df = df.sample(SAMPLE, random_state=0)
            name += f" (sample {SAMPLE})"
        out.append((name, df["Document"].tolist(), {"topic_group": df["Topic_group"].to_numpy(dtype=object)}))
    return out


def _split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """train (for the final fit), validation (a slice of train, for picking C), test."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    test, train = np.sort(perm[: n // 5]), np.sort(perm[n // 5:])
    val = np.sort(rng.permutation(train)[: len(train) // 5])
    return train, val, test


def _pick_c(fit_predict: Any, train: np.ndarray, val: np.ndarray, y: np.ndarray) -> float:
    fit_rows = np.setdiff1d(train, val)
    scores = {c: float(np.mean(fit_predict(fit_rows, val, c) == y[val])) for c in C_GRID}
    return max(scores, key=lambda c: (scores[c], -c))


def _embed(model: str, texts: list[str], cache: Path,
           ) -> tuple[np.ndarray, np.ndarray | None, float]:
    """The vectors the index would hold: read as the shipped ``index`` section reads them
    (``long_text``, ``lead_weight``: auto reads without the lead view while no evaluate has
    chosen, as on a desk without links), so the router measured is the router served; and the
    router's other reading (``index.routing_lead_weight``), as the index stage makes it."""
    from ticketsim.config import IndexConfig
    from ticketsim.index.routing import routing_lead
    from ticketsim.inference import encoder_for
    from ticketsim.inference.lead import add_lead

    icfg = IndexConfig()
    t0 = time.perf_counter()
    encoder = encoder_for(model, "torch", cache_dir=cache, **icfg.reading())
    emb = encoder.encode(texts, 64)
    w = routing_lead(icfg.model_copy(update={"routing_lead_weight": "auto"}),
                     icfg.reading()["lead_weight"])  # 0 when the index reads with the lead
    lead = add_lead(emb, texts, encoder, w) if w else None
    return np.asarray(emb, dtype=np.float32), lead, time.perf_counter() - t0


def _field(texts: list[str], labels: np.ndarray, embs: dict[str, np.ndarray], c_default: float,
           samples: int, icfg: Any, held_out: np.ndarray | None = None,
           order: np.ndarray | None = None, tune: bool = False,
           leads: dict[str, np.ndarray | None] | None = None) -> list[dict[str, Any]]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    from ticketsim.config import LEAD_CANDIDATE
    from ticketsim.evaluation.bootstrap import paired_difference
    from ticketsim.evaluation.routing import knn_labels, router_predictions
    from ticketsim.index.routing import TextFeatures, features, fit_head, labelled, routing_lead

    keep = np.flatnonzero(labelled(labels))
    y_all = np.array([str(v).strip() for v in labels], dtype=object)
    if held_out is None:
        train_p, val_p, test_p = _split(len(keep))
        train, val, test = keep[train_p], keep[val_p], keep[test_p]
    else:  # the run's own held-out tickets (its pairs/split.parquet), as evaluate splits them
        test, train = keep[held_out[keep]], keep[~held_out[keep]]
        val = np.sort(np.random.default_rng(0).permutation(train)[: len(train) // 5])
    y_test = y_all[test]
    preds: dict[str, np.ndarray] = {}
    info: dict[str, dict[str, Any]] = {}
    # text features learn from the training tickets only: held-out ones are new tickets
    text = TextFeatures.fit([texts[i] for i in train], icfg.routing_max_terms)

    for name, emb in embs.items():
        sfx = "" if name == "base" else f"@{name}"
        x_both = features(emb, texts, text)

        def head_fp(fit_rows: np.ndarray, pred_rows: np.ndarray, c: float,
                    x: Any = x_both) -> np.ndarray:
            head = fit_head(x[fit_rows], y_all[fit_rows], c)
            assert head is not None
            return head.classes[np.argmax(head.proba(x[pred_rows]), axis=1)].astype(object)

        lead = (leads or {}).get(name)
        # the served router (routing_lead_weight as shipped), and with its reading fixed
        for variant, lw in (("", icfg.routing_lead_weight), ("-nolead", 0.0),
                            ("-lead", LEAD_CANDIDATE)):
            if variant and lead is None:
                continue
            t0 = time.perf_counter()
            router: dict[str, Any] = {}
            vcfg = icfg.model_copy(update={"routing_lead_weight": lw})
            preds["suggest" + variant + sfx] = router_predictions(
                emb, texts, {"f": labels}, train, test, vcfg, order, router, lead,
                routing_lead(vcfg, 0.0) if lead is not None else 0.0)["f"]
            info["suggest" + variant + sfx] = {
                "features": icfg.routing_features, "c": c_default,
                "chosen": (router.get("selection") or {}).get("f"),
                "reading": router.get("reading"), "routing_lead_weight": lw,
                "fit_s": round(time.perf_counter() - t0, 2)}
        t0 = time.perf_counter()
        preds["suggest-tfidf" + sfx] = head_fp(train, test, c_default)
        info["suggest-tfidf" + sfx] = {"c": c_default, "features": "embedding+tfidf",
                                       "terms": 0 if text is None else len(text.terms),
                                       "fit_s": round(time.perf_counter() - t0, 2)}
        if tune:
            c_best = _pick_c(head_fp, train, val, y_all)
            preds["suggest-tuned" + sfx] = head_fp(train, test, c_best)
            info["suggest-tuned" + sfx] = {"c": c_best, "features": "embedding+tfidf"}
        t0 = time.perf_counter()
        preds["suggest-emb" + sfx] = head_fp(train, test, c_default, emb)
        info["suggest-emb" + sfx] = {"c": c_default, "features": "embedding",
                                     "fit_s": round(time.perf_counter() - t0, 2)}

        def score_fn(q: np.ndarray, emb: np.ndarray = emb) -> np.ndarray:
            return emb[q] @ emb.T

        preds["knn" + sfx] = np.array(knn_labels(score_fn, test, train, y_all, K), dtype=object)
        info["knn" + sfx] = {"k": K}

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    vec.fit([texts[i] for i in train])
    x = vec.transform(texts)

    def tfidf_fp(fit_rows: np.ndarray, pred_rows: np.ndarray, c: float) -> np.ndarray:
        clf = LogisticRegression(C=c, max_iter=2000).fit(x[fit_rows], y_all[fit_rows])
        return clf.predict(x[pred_rows])

    c_tf = _pick_c(tfidf_fp, train, val, y_all)
    preds["tfidf-lr"] = tfidf_fp(train, test, c_tf)
    info["tfidf-lr"] = {"c": c_tf}

    correct = {s: (p == y_test).astype(np.float64) for s, p in preds.items()}
    def vs(a: str, b: str) -> dict[str, Any]:
        """System a's accuracy minus b's, paired over the held-out tickets."""
        d = paired_difference(correct[a], correct[b], samples, 0, 0.95)
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()
                if k in ("diff", "low", "high", "significant")}

    rows = []
    for s, p in preds.items():
        row: dict[str, Any] = {"system": s, "accuracy": round(float(correct[s].mean()), 4),
                               "macro_f1": round(float(f1_score(y_test.astype(str), p.astype(str),
                                                                average="macro", zero_division=0)), 4),
                               "train": len(train), "test": len(test),
                               "classes": len(set(y_all[keep])), **info[s]}
        if s.startswith("suggest"):
            kind = s.partition("@")[0]
            at = s[len(kind):]  # "@ft" for another model's rows
            row["vs_knn"], row["vs_tfidf-lr"] = vs(s, "knn" + at), vs(s, "tfidf-lr")
            if kind in ("suggest", "suggest-lead") and "suggest-nolead" + at in correct:
                row["vs_nolead"] = vs(s, "suggest-nolead" + at)  # what the lead reading changes
            if at:  # the other model's suggestion against the base model's
                row["vs_base_model"] = vs(s, kind)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    from ticketsim.config import IndexConfig
    from ticketsim.models import resolve_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--large", action="store_true", help="all 47,837 processed tickets")
    ap.add_argument("--model", action="append", default=[], help="NAME=PATH: another model")
    ap.add_argument("--cache", type=Path, default=ROOT / "runs" / "bench-cache",
                    help="embedding cache folder")
    ap.add_argument("--only", nargs="*", help="data sets: subset processed")
    ap.add_argument("--samples", type=int, default=1000, help="bootstrap resamples")
    ap.add_argument("--tune", action="store_true", help="also the head with C picked on a "
                    "validation slice (suggest-tuned; it never changed the result)")
    ap.add_argument("--run", type=Path, help="a run directory instead of Endava: its tickets, "
                    "and its train/model as the 'ft' model")
    args = ap.parse_args(argv)

    icfg = IndexConfig()
    c_default = icfg.routing_c
    models = {"base": resolve_model("default")}
    models.update(dict(m.split("=", 1) for m in args.model))
    if args.run is not None and (args.run / "train" / "model").is_dir():
        models["ft"] = args.run / "train" / "model"
    settings = {"split": "seeded 80/20 of labelled tickets (seed 0); C picked on 20% of train; "
                "TF-IDF terms from the training tickets only",
                "c_grid": list(C_GRID), "knn_k": K, "shipped_c": c_default,
                "models": {k: str(v) for k, v in models.items()}, "bootstrap": args.samples}
    result: dict[str, Any] = {"benchmark": "routing", "settings": settings, "datasets": [],
                              "skipped": []}
    data = _datasets(args.large, args.only, args.run)
    if not data:
        result["skipped"].append("Endava data absent under ../shared/data/endava_it_tickets")
    for name, texts, fields in data:
        embs, leads, embed_s = {}, {}, {}
        for m, path in models.items():
            embs[m], leads[m], embed_s[m] = _embed(str(path), texts, args.cache)
        rows = []
        for field, labels in fields.items():
            t0 = time.perf_counter()
            for r in _field(texts, labels, embs, c_default, args.samples, icfg,
                            HELD_OUT.get(name), ORDER.get(name), args.tune, leads):
                rows.append({"field": field, **r, "system": f"{field}/{r['system']}"})
            rows[-1]["field_s"] = round(time.perf_counter() - t0, 1)
        result["datasets"].append({"dataset": name, "tickets": len(texts),
                                   "embed_s": {k: round(v, 1) for k, v in embed_s.items()},
                                   "results": rows})
    if not emit(result, args.out, args.json):
        _table(result)
    return 0


def _table(result: dict[str, Any]) -> None:
    from ticketsim.evaluation.report import paired

    for ds in result["datasets"]:
        print(f"\n{ds['dataset']} ({ds['tickets']} tickets)")
        print(f"{'system':<36} {'acc':>6} {'mF1':>6}  {'vs knn [95% CI]':<26} {'vs tfidf-lr [95% CI]':<26}")
        for r in ds["results"]:
            cells = []
            for b in ("vs_knn", "vs_tfidf-lr"):
                d = r.get(b)
                cells.append(paired(d))
            print(f"{r['system']:<36} {r['accuracy']:>6.3f} {r['macro_f1']:>6.3f}  "
                  f"{cells[0]:<26} {cells[1]:<26}")
    for s in result["skipped"]:
        print("skipped:", s)


if __name__ == "__main__":
    raise SystemExit(main())
