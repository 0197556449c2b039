"""Quality ablation (issue 16): the recipe's choices on SeaMonkey duplicates and Endava routing.

Follows bench/run_all.py's contract. Every system of one data set is scored on the same
queries, with the paired 95 % bootstrap interval of its difference to the base model
(:mod:`ticketsim.evaluation.bootstrap`).

SeaMonkey (``../shared/data/seamonkey_bugs``, 1,076 reports, every linked report a query)
under both protocols of ``evaluate.protocol``:

- ``default``: every linked report a query against all other reports;
- ``benchmark``: the newer report of each duplicate pair against the reports created
  before it (Zhang et al., TOSEM 2023).

Small mode (in ``make bench``): the systems that need no training: ``bm25`` (the product's
keyword engine, SQLite FTS5) and the base model read by ``index.long_text`` truncate and
head_tail at its 256 tokens, ranked exactly over all reports, each also fused with BM25 the
way hybrid search serves it (``hybrid(...)`` rows: ``search``'s RRF defaults); ``--large`` adds truncate,
head_tail and chunks at 128 tokens and chunks at 256.
``--train`` adds the trained recipes, each a full cross-fitted ``ticketsim run``
(``evaluate.folds.k`` models, one per fold of link clusters, so every linked report is
a query once; the product's evaluate ranks through the served search): the default recipe
(pseudo-pair domain adaptation, then MNRL), MNRL alone, ``gist`` with the base model as guide,
and SimCSE / TSDAE adaptation before MNRL; each costs k + 1 trainings (~20 minutes for MNRL on a quiet
2-core machine; SimCSE / TSDAE (32 steps here, one pass) and pseudo pairs add their
adaptation to each).

Endava (``../shared/data/endava_it_tickets``): routing suggestions against kNN voting and
TF-IDF + LR, the rows of :mod:`bench.routing`'s ``bench/results/routing.json`` (``--routing``
reruns it: the 5,431-ticket subset, with ``--large`` also Topic_group on the processed file).


    python -m bench.quality --out bench/results/quality.json [--train] [--large]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import ROOT, SEAMONKEY_DIR, emit

K = 10
# small (make bench): two embedding passes of the 1,076 reports (head_tail re-embeds only the
# reports longer than the limit); --large: the 128-token limit the recipe trains at, and chunks
LONG_TEXT_ROWS = [("base", 256, "truncate", 0.0), ("base+head_tail", 256, "head_tail", 0.0),
                  ("base+lead", 256, "truncate", 0.5)]  # lead: index.lead_weight 0.5
LONG_TEXT_LARGE = [("base@128", 128, "truncate", 0.0), ("base@128+head_tail", 128, "head_tail", 0.0),
                   ("base@128+chunks", 128, "chunks", 0.0), ("base+chunks", 256, "chunks", 0.0)]
PLAIN = "base, off the shelf"  # 256 tokens, truncate, no lead view: the model as it comes
RECIPES: dict[str, list[str]] = {  # --train: `ticketsim run --set` overrides per recipe
    "mnrl, no adaptation": ["train.domain_adaptation=none"],
    "gist, guide = base": ["train.domain_adaptation=none", "train.loss=gist",
                           "train.losses.gist.guide_model=base"],
    # one pass over SeaMonkey's ~1,000 texts (32 steps of 32), not the default 200 steps: 200
    # SimCSE steps cost ~15 min per training here, x 6 trainings a recipe
    "simcse + mnrl": ["train.domain_adaptation=simcse", "train.domain_adaptation_steps=32"],
    "tsdae + mnrl": ["train.domain_adaptation=tsdae", "train.domain_adaptation_steps=32"],
    "pseudo + mnrl (default recipe)": [],
}


def _sm_config(work: Path, extra: list[str] | None = None) -> Any:
    from ticketsim.config import load_config

    return load_config(ROOT / "configs" / "seamonkey.yaml",
                       [f"data.links_store={work / 'links.sqlite'}", *(extra or [])])


def _ingest(work: Path) -> tuple[list[str], list[str], np.ndarray, list[tuple[int, int]]]:
    """Ids, texts, creation stamps (int64) and positive link edges of the SeaMonkey reports."""
    import pandas as pd

    from ticketsim.pipeline import run_stage
    from ticketsim.rundir import RunDir

    run = RunDir(work / "ingest-run")
    run_stage("ingest", _sm_config(work), run)
    t = pd.read_parquet(run.stage_path("ingest") / "tickets.parquet")
    ids = [str(x) for x in t["id"]]
    index = {x: i for i, x in enumerate(ids)}
    links = pd.read_parquet(run.stage_path("ingest") / "links.parquet")
    lab = links["label"].fillna(1).astype(int).tolist() if "label" in links.columns else [1] * len(links)
    edges = sorted({tuple(sorted((index[a], index[b]))) for a, b, y in zip(
        links["a"].astype(str), links["b"].astype(str), lab, strict=True)
        if y == 1 and a in index and b in index and a != b})
    created = pd.to_datetime(t["created"]).astype("int64").to_numpy()
    return ids, [str(x) for x in t["text"].fillna("")], created, [(int(a), int(b)) for a, b in edges]


def _queries(n: int, edges: list[tuple[int, int]], created: np.ndarray,
             ) -> dict[str, dict[int, set[int]]]:
    """Per protocol: query -> relevant reports (benchmark: only older ones; newer queries)."""
    rel: dict[int, set[int]] = {}
    for a, b in edges:
        rel.setdefault(a, set()).add(b)
        rel.setdefault(b, set()).add(a)
    bench = {q: {r for r in rr if created[r] < created[q]} for q, rr in rel.items()}
    return {"default": dict(sorted(rel.items())),
            "benchmark": {q: rr for q, rr in sorted(bench.items()) if rr}}


def _rr_at_k(scores: np.ndarray, queries: list[int], relevant: list[set[int]],
             mask: np.ndarray | None) -> np.ndarray:
    """Reciprocal rank within K per query (query excluded; ``mask`` False: not a candidate)."""
    return np.array([next((1.0 / (r + 1) for r, (c, _) in enumerate(
        _ranking(scores[i], q, mask[i] if mask is not None else None, K)) if c in relevant[i]),
        0.0) for i, q in enumerate(queries)])


def _ranking(scores: np.ndarray, q: int, mask: np.ndarray | None, n: int,
             positive: bool = False) -> list[tuple[int, float]]:
    """Best ``n`` (candidate, score) of one query row: the query itself, non-candidates and
    (``positive``: keyword rows) non-matching reports left out, ties by position."""
    s = scores.astype(np.float64).copy()
    s[q] = -np.inf
    if mask is not None:
        s[~mask] = -np.inf
    if positive:
        s[s <= 0] = -np.inf
    top = np.argsort(-s, kind="stable")[:n]
    return [(int(c), float(s[c])) for c in top if np.isfinite(s[c])]


def _rr_hybrid(dense: np.ndarray, keyword: np.ndarray, queries: list[int],
               relevant: list[set[int]], mask: np.ndarray | None) -> np.ndarray:
    """Reciprocal rank within K of the served hybrid: the product's fusion (``search``
    settings' defaults) of the dense and keyword rankings."""
    from ticketsim.config import SearchConfig
    from ticketsim.retrieval.fusion import Fusion

    sc = SearchConfig()
    fusion = Fusion(sc.rrf_k, sc.dense_weight, sc.keyword_weight, sc.window)
    out = np.zeros(len(queries))
    for i, q in enumerate(queries):
        m = mask[i] if mask is not None else None
        fused = fusion.fuse(_ranking(dense[i], q, m, sc.window),
                            _ranking(keyword[i], q, m, sc.window, positive=True))[:K]
        out[i] = next((1.0 / (r + 1) for r, (c, _) in enumerate(fused) if c in relevant[i]), 0.0)
    return out


def _embed(texts: list[str], max_len: int, long_text: str, cache: Path,
           lead_weight: float = 0.0) -> tuple[np.ndarray, float]:
    from ticketsim.inference import load_encoder
    from ticketsim.inference.cache import CACHE_FILE, CachedEncoder
    from ticketsim.inference.lead import with_lead
    from ticketsim.inference.longtext import with_long_text
    from ticketsim.models import resolve_model

    enc = with_lead(with_long_text(CachedEncoder(load_encoder(
        resolve_model("default"), "torch", max_seq_length=max_len), cache / CACHE_FILE),
        long_text), lead_weight)
    t0 = time.perf_counter()
    emb = np.asarray(enc.encode(texts, 32), dtype=np.float32)
    return emb, time.perf_counter() - t0


def _rows(per_query: dict[str, dict[str, np.ndarray]], counts: dict[str, int],
          info: dict[str, dict[str, Any]], samples: int) -> list[dict[str, Any]]:
    from ticketsim.evaluation.bootstrap import interval, paired_difference

    rows = []
    for proto, systems in per_query.items():
        for name, v in systems.items():
            row: dict[str, Any] = {"system": f"{proto}/{name}", "protocol": proto,
                                   "queries": counts[proto], "mrr@10": round(float(v.mean()), 4),
                                   "mrr@10_ci": {k: round(x, 4) for k, x in interval(
                                       v, samples, 0, 0.95).items() if k in ("low", "high")},
                                   **info.get(name, {})}
            for ref, key in (("base", "vs_base"), (PLAIN, "vs_plain_base")):
                if name != ref and ref in systems and (name != "base" or ref == PLAIN):
                    d = paired_difference(v, systems[ref], samples, 0, 0.95)
                    row[key] = {k: (round(x, 4) if isinstance(x, float) else x)
                                for k, x in d.items() if k in ("diff", "low", "high", "significant")}
            rows.append(row)
    return rows


def seamonkey_small(work: Path, samples: int, large: bool = False) -> dict[str, Any]:
    from ticketsim.retrieval.keyword import KeywordIndex

    ids, texts, created, edges = _ingest(work)
    qs = _queries(len(ids), edges, created)
    per_query: dict[str, dict[str, np.ndarray]] = {p: {} for p in qs}
    info: dict[str, dict[str, Any]] = {}
    masks = {"default": None,
             "benchmark": np.stack([created < created[q] for q in qs["benchmark"]])}
    kw = KeywordIndex(texts)
    t0 = time.perf_counter()
    keyword: dict[str, np.ndarray] = {}
    for proto, rel in qs.items():
        queries = list(rel)
        keyword[proto] = s = kw.scores([texts[q] for q in queries])
        per_query[proto]["bm25"] = _rr_at_k(s, queries, [rel[q] for q in queries], masks[proto])
    kw.close()
    info["bm25"] = {"rank_s": round(time.perf_counter() - t0, 1)}
    for name, max_len, mode, lead in LONG_TEXT_ROWS + (LONG_TEXT_LARGE if large else []):
        emb, secs = _embed(texts, max_len, mode, work / "cache", lead)
        info[name] = {"max_seq_length": max_len, "long_text": mode, "lead_weight": lead,
                      "embed_s": round(secs, 1)}
        for proto, rel in qs.items():
            queries = list(rel)
            dense = emb[queries] @ emb.T
            relevant = [rel[q] for q in queries]
            per_query[proto][name] = _rr_at_k(dense, queries, relevant, masks[proto])
            if mode != "chunks":  # hybrid: the served fusion of this model and BM25
                per_query[proto][f"hybrid({name})"] = _rr_hybrid(
                    dense, keyword[proto], queries, relevant, masks[proto])
    return {"dataset": "seamonkey", "tickets": len(ids), "links": len(edges),
            "results": _rows(per_query, {p: len(r) for p, r in qs.items()}, info, samples)}


def seamonkey_trained(work: Path, samples: int, recipes: list[str]) -> dict[str, Any]:
    """Each recipe as a cross-fitted ``ticketsim run``; evaluate's per-query MRR@10 of the
    fine-tuned folds and of the base model, under both protocols."""
    from ticketsim.evaluation.stage import run_evaluate
    from ticketsim.pipeline import run_all
    from ticketsim.rundir import RunDir

    per_query: dict[str, dict[str, np.ndarray]] = {"default": {}, "benchmark": {}}
    counts: dict[str, int] = {}
    query_ids: dict[str, list[str]] = {}
    info: dict[str, dict[str, Any]] = {}
    # the base model as it comes (256 tokens, truncate, no lead view), on evaluate's queries:
    # evaluate's own base row reads the way the product does (index.long_text, lead_weight)
    ids, texts, created, edges = _ingest(work)
    plain, _ = _embed(texts, 256, "truncate", work / "cache")
    qs = _queries(len(ids), edges, created)
    pos = {x: i for i, x in enumerate(ids)}
    for name in recipes:
        run = RunDir(work / ("run-" + "".join(c if c.isalnum() else "-" for c in name)))
        t0 = time.perf_counter()
        run_all(_sm_config(work, RECIPES[name]), run)
        info[name] = {"overrides": RECIPES[name], "run_s": round(time.perf_counter() - t0, 1)}
        for proto in ("default", "benchmark"):
            cfg = _sm_config(work, [*RECIPES[name], f"evaluate.protocol={proto}"])
            if proto != "default":  # the protocol is in evaluate's inputs: it reruns, and
                # the fold models' train stages stay fresh (force would retrain all k)
                run_evaluate(cfg, run)
            details = json.loads((run.stage_path("evaluate") / "details.json").read_text())
            qids = query_ids.setdefault(proto, details["query_ids"])
            if details["query_ids"] != qids:  # paired: the same queries in every run
                raise RuntimeError(f"{name}: other {proto} queries than the first recipe's")
            if PLAIN not in per_query[proto]:
                q = [pos[str(x)] for x in qids]
                mask = (np.stack([created < created[i] for i in q]) if proto == "benchmark"
                        else None)
                per_query[proto][PLAIN] = _rr_at_k(plain[q] @ plain.T, q,
                                                   [qs[proto][i] for i in q], mask)
            for system, label in (("finetuned", name), ("finetuned+lead", f"{name} + lead"),
                                  ("base", "base"), ("hybrid", f"hybrid({name})"),
                                  ("hybrid-base", "hybrid(base)")):
                if system in details["per_query"]:  # hybrid: when evaluate scored it
                    per_query[proto][label] = np.asarray(
                        details["per_query"][system]["mrr@10"], dtype=np.float64)
            # what the product serves: the champion rule, each fold's queries scored with the
            # system it chose on the other folds' queries (index.lead_weight auto included)
            oof = _served(cfg, details)
            if oof is not None:
                per_query[proto][f"{name}, served"] = oof["per_query"]
                info.setdefault(f"{name}, served", {})[f"chosen_{proto}"] = oof["chosen"]
            counts[proto] = len(qids)
    return {"dataset": "seamonkey (cross-fitted runs)", "results": _rows(per_query, counts, info,
                                                                       samples)}


def _served(cfg: Any, details: dict[str, Any]) -> dict[str, Any] | None:
    """:func:`ticketsim.evaluation.champion.out_of_fold` on a cross-fitted evaluate's details,
    under the run's own settings (metric, default mode, bootstrap; seamonkey.yaml keeps
    the primary metric MRR@10, the bench's)."""
    from ticketsim.evaluation import champion

    ev, bs = cfg.evaluate, cfg.evaluate.bootstrap
    pq = {s: {ev.primary_metric: np.asarray(v[ev.primary_metric], dtype=np.float64)}
          for s, v in details["per_query"].items()}
    oof = champion.out_of_fold(pq, details["query_fold"], ev.primary_metric,
                               cfg.search.reference_mode, bs.samples, bs.seed, bs.confidence)
    return oof


def endava_routing(work: Path, large: bool, samples: int, rerun: bool) -> list[dict[str, Any]]:
    """The routing rows: bench/results/routing.json (``make bench`` runs bench/routing.py
    too), or a fresh bench.routing run with ``--routing`` (or when that file is absent)."""
    from bench._common import RESULTS
    from bench.routing import main as routing_main

    out = RESULTS / "routing.json"
    if rerun or not out.is_file():
        out = work / "routing.json"
        routing_main(["--out", str(out), "--samples", str(samples)]
                     + ([] if large else ["--only", "subset"]))
    data = json.loads(out.read_text())
    return [{"dataset": f"{d['dataset']} (routing)", "results": [
        r for r in d["results"] if "@" not in r["system"]]} for d in data["datasets"]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--large", action="store_true", help="also Topic_group routing (12k sample)")
    ap.add_argument("--train", action="store_true", help="the trained recipes (hours on a CPU)")
    ap.add_argument("--recipes", nargs="*", default=list(RECIPES), help="with --train")
    ap.add_argument("--no-routing", action="store_true")
    ap.add_argument("--routing", action="store_true", help="rerun bench.routing (else its "
                    "bench/results/routing.json)")
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-quality")
    ap.add_argument("--samples", type=int, default=1000, help="bootstrap resamples")
    args = ap.parse_args(argv)
    result: dict[str, Any] = {
        "benchmark": "quality",
        "settings": {"metric": "MRR@10 per query, paired bootstrap 95 % vs the base model",
                     "protocols": ["default", "benchmark"], "samples": args.samples,
                     "base": "all-MiniLM-L6-v2 (bundled)", "train": args.train},
        "datasets": [], "skipped": []}
    args.work.mkdir(parents=True, exist_ok=True)
    if (SEAMONKEY_DIR / "SeaMonkey_bugs.csv").is_file():
        result["datasets"].append(seamonkey_small(args.work, args.samples, args.large))
        if args.train:
            result["datasets"].append(seamonkey_trained(args.work, args.samples, args.recipes))
        else:
            result["skipped"].append("trained recipes: run with --train (k+1 trainings each)")
    else:
        result["skipped"].append("SeaMonkey data absent under ../shared/data/seamonkey_bugs")
    if not args.no_routing:
        routing = endava_routing(args.work, args.large, args.samples, args.routing)
        result["datasets"] += routing
        if not routing:
            result["skipped"].append("Endava data absent under ../shared/data/endava_it_tickets")
    if not emit(result, args.out, args.json):
        _table(result)
    return 0


def _table(result: dict[str, Any]) -> None:
    from ticketsim.evaluation.report import paired

    for ds in result["datasets"]:
        print(f"\n{ds['dataset']}")
        for r in ds["results"]:
            metric = "mrr@10" if "mrr@10" in r else "accuracy"
            d = r.get("vs_base") or r.get("vs_tfidf-lr")
            cell = paired(d)
            print(f"  {r['system']:<40} {metric} {r[metric]:.3f}  {cell}")
    for s in result["skipped"]:
        print("skipped:", s)


if __name__ == "__main__":
    raise SystemExit(main())
