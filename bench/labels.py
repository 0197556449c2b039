"""Labels a person can trust: each threshold rule's cross-fitted precision / recall per label.

Follows bench/run_all.py's contract. For each data set, the base model (and, with
``--run RUN_DIR``, that run's fine-tuned model on its held-out links) ranks the queries;
pairs are built exactly as ``evaluate`` builds them (top results, known links, random
tickets; same category and subcategory = related) and each rule's thresholds are
cross-fitted over folds of link clusters, so every number is measured on queries the
thresholds never saw. Rules compared:

- ``old``: the rule before issue 15: duplicate at precision 0.9; related = best F1 of
  related + duplicate *links* against everything else (same-topic results count as negatives);
- ``default``: :func:`ticketsim.evaluation.duplicates.fit_thresholds` as ``evaluate`` uses
  it: duplicate at precision 0.9 (no duplicate label when no cut reaches it); related = the
  cut that best separates duplicate + related links + same-topic pairs from unrelated ones
  (max TPR - FPR);
- ``related-f1``: the default with the best-F1 related cut;
- ``f1-fallback``: the default, but the best-F1 duplicate cut when precision 0.9 is unreachable;
- ``duplicate-f1``: the best-F1 duplicate cut always.

Data sets: the demo (2,000 generated tickets, every linked ticket a query: the base model
saw none of them), SeaMonkey (duplicate links only, no categories) and Endava (categories,
no links: only related / unrelated can be measured); the last two skip when
../shared/data is absent.

    python -m bench.labels --out bench/results/labels.json [--run runs/demo]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import ENDAVA_SUBSET, SEAMONKEY_DIR, emit

TARGET = 0.9
TOP_K = 10


def _fitters() -> dict[str, Any]:
    from ticketsim.evaluation import duplicates as dup

    def old(s: np.ndarray, kinds: Sequence[str]) -> tuple[float, float] | None:
        k = np.asarray(kinds, dtype=object)
        fit = dup.fit_thresholds(s, np.where(k == "topic", "negative", k), target_precision=TARGET,
                                 threshold_rule="precision", unreachable="f1")
        if fit is None:
            return None
        linked = np.isin(k, ("duplicate", "related"))
        if (k == "related").any():
            rel = dup._best_f1(s, linked.astype(np.int64))[3]
        else:
            rel = float(np.quantile(s[k == "duplicate"], 0.1))
        return fit["duplicate"], min(rel, fit["duplicate"])

    def rule(threshold_rule: str, related_rule: str, unreachable: str) -> Any:
        def f(s: np.ndarray, kinds: Sequence[str]) -> tuple[float, float] | None:
            k = np.asarray(kinds, dtype=object)
            if not (k == "duplicate").any() and not (k == "related").any():
                # no links at all (Endava): only the related cut can be fitted
                if not (k == "topic").any() or not (k == "negative").any():
                    return None
                y = (k == "topic").astype(np.int64)
                return np.inf, (dup._youden(s, y) if related_rule == "youden"
                                else dup._best_f1(s, y)[3])
            fit = dup.fit_thresholds(s, kinds, target_precision=TARGET, threshold_rule=threshold_rule,
                                     related_rule=related_rule, unreachable=unreachable)
            return None if fit is None else (fit["duplicate"], fit["related"])
        return f

    return {"old": old,
            "default": rule("precision", "youden", "none"),
            "related-f1": rule("precision", "f1", "none"),
            "f1-fallback": rule("precision", "youden", "f1"),
            "duplicate-f1": rule("f1", "youden", "f1")}


def _measure(name: str, emb: np.ndarray, ids: list[str], topic: np.ndarray | None,
             query_idx: list[int], relevant_kind: list[dict[int, str]],
             edges: list[tuple[int, int]], known: set[frozenset[int]]) -> list[dict[str, Any]]:
    from ticketsim.evaluation import duplicates as dup
    from ticketsim.evaluation import folds, metrics
    from ticketsim.evaluation.dense import DenseScorer

    scorer = DenseScorer(name, emb, "")
    ranking = metrics.exact_dense_ranking(name, emb, query_idx, [set(r) for r in relevant_kind],
                                          keep=TOP_K + 1)
    pairs = dup.build_pairs(ranking, relevant_kind, known, [], top_k=TOP_K, random_per_query=2,
                            n_corpus=len(ids), seed=0, topic=topic)
    scores = scorer.pair_scores(pairs.a, pairs.b)
    if edges:
        qf = folds.cluster_folds(query_idx, folds.clusters(len(ids), edges), dup.LABEL_FOLDS)
    else:
        qf = np.arange(len(query_idx)) % dup.LABEL_FOLDS
    fold_of = {int(q): int(f) for q, f in zip(query_idx, qf, strict=True)}
    rows = []
    for rule, fitter in _fitters().items():
        st = dup.label_stats(scores, pairs, fold_of, target_precision=TARGET,
                             threshold_rule="precision", min_positives=10,
                             related_truth="same category and subcategory, or a related link",
                             fitter=fitter)
        row: dict[str, Any] = {"system": f"{name}/{rule}", "model": name, "rule": rule,
                               "queries": len(query_idx)}
        for lab, v in st.items():
            for key in ("precision", "recall"):
                row[f"{lab}_{key}"] = None if v[key] is None else round(v[key], 3)
            row[f"{lab}_n"] = v["labelled"]
            row[f"{lab}_words"] = v["words"]
        rows.append(row)
    return rows


def _embed(model: str, texts: list[str], cache: Path) -> np.ndarray:
    from ticketsim.inference import encoder_for

    return encoder_for(model, "torch", cache_dir=cache).encode(texts, 64)


def _from_run(run: Any, cfg: Any) -> tuple[Any, np.ndarray | None]:
    """Tickets, queries and relevance of a run's ingest (all linked tickets are queries)."""
    import pandas as pd

    from ticketsim.evaluation import duplicates as dup

    t = pd.read_parquet(run.stage_path("ingest") / "tickets.parquet")
    ids = [str(x) for x in t["id"]]
    index = {x: i for i, x in enumerate(ids)}
    links_path = run.stage_path("ingest") / "links.parquet"
    rel: dict[int, dict[int, str]] = {}
    known: set[frozenset[int]] = set()
    if links_path.is_file():
        links = pd.read_parquet(links_path)
        for a, b, lab, kind in zip(links["a"].astype(str), links["b"].astype(str),
                                   links["label"].fillna(1).astype(int),
                                   links["kind"].fillna("duplicate").astype(str), strict=True):
            if a in index and b in index:
                known.add(frozenset((index[a], index[b])))
                if lab == 1:
                    k = "related" if kind == "related" else "duplicate"
                    rel.setdefault(index[a], {})[index[b]] = k
                    rel.setdefault(index[b], {})[index[a]] = k
    cols = [t[f].fillna("").astype(str).to_numpy(dtype=object)
            for f in ("category", "subcategory") if f in t.columns]
    topic = dup.topic_keys(cols)
    return (t, ids, rel, known), topic


def _dataset(name: str, tree: dict[str, Any], work: Path, base: str,
             sample_queries: int = 0) -> dict[str, Any]:
    from ticketsim.config import config_from_dict
    from ticketsim.pipeline import run_stage
    from ticketsim.rundir import RunDir

    cfg = config_from_dict(tree)
    run = RunDir(work / name)
    run_stage("ingest", cfg, run)
    (t, ids, rel, known), topic = _from_run(run, cfg)
    if rel:
        query_idx = sorted(rel)
    else:  # no links: a sample of tickets, related / unrelated only
        rng = np.random.default_rng(0)
        query_idx = sorted(rng.choice(len(ids), min(sample_queries, len(ids)), replace=False).tolist())
    texts = [str(x) for x in t["text"].fillna("")]
    emb = _embed(base, texts, work / "cache")
    edges = [(a, b) for a, rr in rel.items() for b in rr]
    rows = _measure("base", emb, ids, topic, query_idx, [rel.get(q, {}) for q in query_idx],
                    edges, known)
    return {"dataset": name, "tickets": len(ids), "queries": len(query_idx),
            "duplicate_links": sum(1 for rr in rel.values() for k in rr.values()
                                   if k == "duplicate") // 2,
            "categories": topic is not None, "results": rows}


def _run_dir(path: Path) -> dict[str, Any]:
    """A finished run: its held-out queries, base and fine-tuned models (as evaluate sees them)."""
    from ticketsim.config import load_config
    from ticketsim.evaluation import duplicates as dup
    from ticketsim.evaluation.stage import EvalData
    from ticketsim.models import resolve_model
    from ticketsim.rundir import RunDir

    run = RunDir(path)
    cfg = load_config(path / "config.yaml") if (path / "config.yaml").is_file() else None
    base = resolve_model(cfg.train.base_model if cfg else "default")
    d = EvalData(run, False)
    topic = dup.topic_keys([d.tickets[f].fillna("").astype(str).to_numpy(dtype=object)
                            for f in ("category", "subcategory") if f in d.tickets.columns])
    rows = []
    for name, model in (("base", base), ("finetuned", str(run.stage_path("train") / "model"))):
        emb = _embed(model, d.texts, run.path / "cache")
        rows += _measure(name, emb, d.ids, topic, d.query_idx, d.relevant_kind, d.edges, d.known)
    return {"dataset": f"run:{path.name} (held-out)", "tickets": d.n, "queries": len(d.query_idx),
            "categories": topic is not None, "results": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--large", action="store_true", help="no extra effect (the run is small)")
    ap.add_argument("--run", type=Path, help="also measure a finished run's held-out links")
    ap.add_argument("--only", nargs="*", help="data sets: demo seamonkey endava")
    ap.add_argument("--work", type=Path, help="keep runs and embeddings here (default: a temp dir)")
    args = ap.parse_args(argv)

    from ticketsim.data.demo import generate_demo
    from ticketsim.models import resolve_model

    base = resolve_model("default")
    datasets, skipped = [], []
    only = set(args.only or ["demo", "seamonkey", "endava"])
    with tempfile.TemporaryDirectory(prefix="bench-labels-") as tmp:
        work = args.work or Path(tmp)
        if "demo" in only:
            data = work / "demo-data"
            generate_demo(data, n_tickets=2000, seed=0)
            datasets.append(_dataset("demo", {"data": {
                "tickets": str(data / "tickets.csv"), "links": str(data / "links.json"),
                "links_store": str(work / "demo.sqlite"),
                "columns": {"id": "number", "category": "category", "subcategory": "subcategory",
                            "created": "opened_at"}}}, work, base))
        sm = SEAMONKEY_DIR
        if "seamonkey" in only and sm.is_dir():
            datasets.append(_dataset("seamonkey", {"data": {
                "tickets": str(sm / "SeaMonkey_bugs.csv"),
                "links": str(sm / "SeaMonkey_bugs-combined.csv"),
                "links_store": str(work / "sm.sqlite"),
                "columns": {"id": "Issue id", "short_description": "Summary",
                            "description": "Description", "created": "Created"}}}, work, base))
        elif "seamonkey" in only:
            skipped.append("seamonkey: ../shared/data absent")
        en = ENDAVA_SUBSET
        if "endava" in only and en.is_file():
            datasets.append(_dataset("endava", {"data": {
                "tickets": str(en), "links_store": str(work / "en.sqlite"),
                "columns": {"id": None, "short_description": "title", "description": "body",
                            "category": "category", "subcategory": "sub_category1"}}},
                work, base, sample_queries=600))
        elif "endava" in only:
            skipped.append("endava: ../shared/data absent")
        if args.run:
            datasets.append(_run_dir(args.run))
    result = {"benchmark": "labels",
              "settings": {"target_precision": TARGET, "shown_results": TOP_K,
                           "folds": "5 folds of link clusters (cross-fitted)"},
              "datasets": datasets, "skipped": skipped}
    if not emit(result, args.out, args.json):
        for ds in datasets:
            print(f"\n{ds['dataset']}: {ds['tickets']} tickets, {ds['queries']} queries")
            print(f"{'system':22} {'dup P':>6} {'dup R':>6} {'rel P':>6} {'rel R':>6} "
                  f"{'unr P':>6} {'unr R':>6}")
            for r in ds["results"]:
                vals = [r.get(f"{lab}_{k}") for lab in ("duplicate", "related", "unrelated")
                        for k in ("precision", "recall")]
                print(f"{r['system']:22} " + " ".join("     -" if v is None else f"{v:6.2f}"
                                                      for v in vals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
