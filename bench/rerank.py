"""Re-ranking the base model's top k with a cross-encoder trained on the desk's links (SeaMonkey).

Follows bench/run_all.py's contract. Cross-fitted over link clusters
(:mod:`ticketsim.evaluation.folds`): every linked report is a query once, ranked by a
re-ranker that never saw its cluster's links. Per fold, :mod:`ticketsim.training.cross_encoder`
mines hard negatives for the other folds' links with the base model and trains a
CrossEncoder from the bundled all-MiniLM-L6-v2 (``CrossEncoderTrainer``,
``BinaryCrossEntropyLoss``, the ``train.cross_encoder`` defaults); the held-out queries'
base-model top ``--top`` (the query excluded) is re-scored by it. MRR@10 and Recall@10 of
``base`` and ``base+rerank`` with the paired bootstrap interval of the difference, and the
re-ranker's CPU time per query (one thread, ``--top`` pairs per query).

    python -m bench.rerank --out bench/results/rerank.json [--folds 3] [--top 20]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import ROOT, SEAMONKEY_DIR, emit


def _ingest(work: Path) -> tuple[list[str], list[str], list[tuple[int, int]]]:
    import pandas as pd

    from ticketsim.config import config_from_dict
    from ticketsim.pipeline import run_stage
    from ticketsim.rundir import RunDir

    cfg = config_from_dict({"data": {
        "tickets": str(SEAMONKEY_DIR / "SeaMonkey_bugs.csv"),
        "links": str(SEAMONKEY_DIR / "SeaMonkey_bugs-combined.csv"),
        "links_store": str(work / "links.sqlite"),
        "columns": {"id": "Issue id", "short_description": "Summary", "description": "Description",
                    "created": "Created"}}})
    run = RunDir(work / "run")
    run_stage("ingest", cfg, run)
    t = pd.read_parquet(run.stage_path("ingest") / "tickets.parquet")
    ids = [str(x) for x in t["id"]]
    index = {x: i for i, x in enumerate(ids)}
    links = pd.read_parquet(run.stage_path("ingest") / "links.parquet")
    lab = links["label"].fillna(1).astype(int) if "label" in links.columns else 1
    edges = sorted({tuple(sorted((index[a], index[b]))) for a, b, y in zip(
        links["a"].astype(str), links["b"].astype(str), np.broadcast_to(lab, len(links)), strict=True)
        if y == 1 and a in index and b in index and a != b})
    return ids, [str(x) for x in t["text"].fillna("")], [(int(a), int(b)) for a, b in edges]


def _rr(ranked: list[int], relevant: set[int], k: int = 10) -> tuple[float, float]:
    """Reciprocal rank within k, recall within k."""
    rr = next((1.0 / (i + 1) for i, x in enumerate(ranked[:k]) if x in relevant), 0.0)
    return rr, len(relevant & set(ranked[:k])) / len(relevant)


def main(argv: list[str] | None = None) -> int:
    import torch

    from ticketsim.config import CrossEncoderTrainConfig
    from ticketsim.evaluation.bootstrap import interval, paired_difference
    from ticketsim.evaluation.folds import cluster_folds, clusters
    from ticketsim.inference import encoder_for
    from ticketsim.models import resolve_model
    from ticketsim.training.cross_encoder import reranker_pairs, train_cross_encoder

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--large", action="store_true", help="5 folds instead of --folds")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--top", type=int, default=20, help="base-model results re-ranked")
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-rerank")
    ap.add_argument("--samples", type=int, default=1000)
    args = ap.parse_args(argv)
    folds_k = 5 if args.large else args.folds
    cc = CrossEncoderTrainConfig()
    settings = {"first_stage": "base all-MiniLM-L6-v2 dense, query excluded", "top": args.top,
                "folds": folds_k, "cross_encoder": cc.model_dump(mode="json"),
                "init": "bundled all-MiniLM-L6-v2 + fresh one-logit head",
                "threads": 1}
    result: dict[str, Any] = {"benchmark": "rerank", "settings": settings, "results": [],
                              "skipped": []}
    if not (SEAMONKEY_DIR / "SeaMonkey_bugs.csv").is_file():
        result["skipped"].append("SeaMonkey data absent under ../shared/data/seamonkey_bugs")
        emit(result, args.out, args.json)
        return 0
    torch.set_num_threads(1)
    args.work.mkdir(parents=True, exist_ok=True)
    ids, texts, edges = _ingest(args.work)
    base = resolve_model("default")
    emb = np.asarray(encoder_for(base, "torch", cache_dir=args.work / "cache").encode(texts, 64))
    rel: dict[int, set[int]] = {}
    for a, b in edges:
        rel.setdefault(a, set()).add(b)
        rel.setdefault(b, set()).add(a)
    queries = sorted(rel)
    lab = clusters(len(ids), edges)
    fold = dict(zip(queries, cluster_folds(queries, lab, folds_k).tolist(), strict=True))
    per: dict[str, list[float]] = {"base_mrr": [], "rerank_mrr": [], "base_r10": [], "rerank_r10": []}
    cost_s: list[float] = []
    fold_info = []
    from sentence_transformers import CrossEncoder

    for f in range(folds_k):
        held = [q for q in queries if fold[q] == f]
        train_edges = [(a, b) for a, b in edges if fold[a] != f and fold[b] != f]
        t0 = time.perf_counter()
        pairs = reranker_pairs(texts, train_edges, base, negatives=cc.negatives,
                               relative_margin=cc.relative_margin)
        out = args.work / f"ce-fold{f}"
        info = train_cross_encoder(pairs, base, out, epochs=cc.epochs, batch_size=cc.batch_size,
                                   learning_rate=cc.learning_rate, max_length=cc.max_length,
                                   work_dir=args.work)
        train_s = time.perf_counter() - t0
        ce = CrossEncoder(str(out), device="cpu")
        for q in held:
            s = emb @ emb[q]
            s[q] = -np.inf
            top = np.argsort(-s, kind="stable")[: args.top].tolist()
            t1 = time.perf_counter()
            scores = ce.predict([(texts[q], texts[j]) for j in top], batch_size=args.top)
            cost_s.append(time.perf_counter() - t1)
            order = [top[i] for i in np.argsort(-np.asarray(scores), kind="stable")]
            b_rr, b_r = _rr(top, rel[q])
            r_rr, r_r = _rr(order, rel[q])
            per["base_mrr"].append(b_rr)
            per["rerank_mrr"].append(r_rr)
            per["base_r10"].append(b_r)
            per["rerank_r10"].append(r_r)
        fold_info.append({"fold": f, "queries": len(held), "train_links": len(train_edges),
                          "train_s": round(train_s, 1), **info})
    arr = {k: np.asarray(v) for k, v in per.items()}
    for name in ("base", "rerank"):
        row: dict[str, Any] = {"system": "base" if name == "base" else "base+rerank",
                               "queries": len(queries),
                               "mrr@10": round(float(arr[f"{name}_mrr"].mean()), 4),
                               "recall@10": round(float(arr[f"{name}_r10"].mean()), 4),
                               "mrr@10_ci": {k: round(v, 4) for k, v in interval(
                                   arr[f"{name}_mrr"], args.samples, 0, 0.95).items()
                                   if k in ("low", "high")}}
        if name == "rerank":
            d = paired_difference(arr["rerank_mrr"], arr["base_mrr"], args.samples, 0, 0.95)
            row["vs_base_mrr@10"] = {k: (round(v, 4) if isinstance(v, float) else v)
                                     for k, v in d.items() if k in ("diff", "low", "high", "significant")}
            c = np.asarray(cost_s) * 1000
            row["p50_ms"] = round(float(np.median(c)), 1)
            row["p90_ms"] = round(float(np.quantile(c, 0.9)), 1)
            row["train_s_per_fold"] = round(float(np.mean([fi["train_s"] for fi in fold_info])), 1)
        result["results"].append(row)
    result["folds"] = fold_info
    result["tickets"], result["links"] = len(ids), len(edges)
    if not emit(result, args.out, args.json):
        for r in result["results"]:
            extra = (f"  diff {r['vs_base_mrr@10']['diff']:+.3f} [{r['vs_base_mrr@10']['low']:+.3f}, "
                     f"{r['vs_base_mrr@10']['high']:+.3f}]  {r['p50_ms']} ms/query (p50, top "
                     f"{args.top}, 1 thread)" if "vs_base_mrr@10" in r else "")
            print(f"{r['system']:<12} MRR@10 {r['mrr@10']:.3f}  R@10 {r['recall@10']:.3f}{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
