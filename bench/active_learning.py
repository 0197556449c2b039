"""Active-learning simulation: which strategy reaches a given held-out MRR@10 with fewest labels.

A demo history (``ticketsim.data.demo.generate_demo``) is the desk; its ``truth.json`` is
the person answering (duplicate if both tickets are in one true group, related if the
pair is a true related pair, else not related). The desk starts with every link of the
held-out period (the fixed evaluation set, ``pairs/test_links.parquet`` of a time split)
plus ``--seed-labels`` known duplicate pairs of the training period. Round 0 fine-tunes
MiniLM on that. Then, per strategy, each round asks ``--k`` pairs chosen by the strategy
among the current model's candidates (training-period tickets only, never a pair the store
holds), writes the oracle's answers to the strategy's own links store, and runs the
product pipeline again (ingest -> pairs -> train from the base model on all labels ->
evaluate -> index); the evaluate stage's MRR@10 on the fixed held-out queries is the curve.

Every round trains from the base model on all labels so far (not from the previous
round's model, as ``ticketsim retrain`` does): rounds then differ only in their labels.
The loss is a labelled-pairs one (``--loss online_contrastive``, ``--margin 0.3`` by
default; ``cosent`` works too), so every answer, "not related" included, is a training row.
At the loss's own margin 0.5 random answers teach as much as chosen ones
(docs/active_learning.md). ``--repeats`` desks (demo seeds ``seed``, ``seed+1``, ...) are
pooled query by query; the verdict is a paired bootstrap over those queries.

Output: ``bench/results/active_learning.json`` (pooled curves with each desk's value,
positives found, answers per round, the "labels to reach random's final MRR@10" verdict
and paired differences) and ``active_learning.png``.

    nice .venv/bin/python -m bench.active_learning       # defaults: 2 desks, ~19 min on 2 cores
    nice .venv/bin/python -m bench.active_learning --tickets 300 --rounds 1 --k 10 --repeats 1  # smoke
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import RESULTS
from ticketsim.active.simulation import Oracle, combine, loss_tree, verdict_for

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

STRATEGIES = ["random", "uncertainty", "disagreement", "diversity"]


def config_tree(data: Path, store: Path, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    return {
        "data": {"tickets": str(data / "tickets.csv"), "links": str(data / "sim_links.json"),
                 "links_store": str(store),
                 "columns": {"id": "number", "category": "category", "subcategory": "subcategory",
                             "created": "opened_at", "extra": ["status"]}},
        "pairs": {"split": {"method": "time", "test_fraction": args.heldout_fraction,
                            "validation_fraction": 0.0},
                  "positives": {"category": False, "transitive": True},
                  "negatives": {"strategy": "bm25", "per_anchor": 1,
                                "exclude_same_category": False, "hardness_sample": 0}},
        "train": {**loss_tree(args.loss, args.margin),
                  "trainer": {"num_train_epochs": args.epochs, "eval_strategy": "no"},
                  "batch_size": 16, "max_seq_length": 96, "seed": seed,
                  **({"learning_rate": args.lr} if args.lr else {})},
        "evaluate": {"systems": ["finetuned"], "bootstrap": {"samples": 100}, "worst_misses": 0},
        "label": {"candidates_k": args.candidates_k, "keyword_k": args.candidates_k, "anchors": 0,
                  "seed": seed},
    }


def initial_links(data: Path, truth: dict[str, Any], n_seed: int, seed: int) -> list[dict]:
    """Held-out-period links (the evaluation set), n_seed training duplicates, known non-links."""
    rng = random.Random(seed)
    held, train = [], []
    for g in truth["groups"]:
        pairs = [{"a": a, "b": b, "label": 1, "kind": "duplicate"}
                 for a, b in combinations(g["tickets"], 2)]
        (held if g["template_family"] == "heldout" else train).extend(pairs)
    rng.shuffle(train)
    # the demo's few label-0 look-alike links too (a desk's "not a duplicate" notes)
    negatives = [lk for lk in json.loads((data / "links.json").read_text()) if lk["label"] == 0]
    links = held + train[:n_seed] + negatives
    (data / "sim_links.json").write_text(json.dumps(links))
    return links


def run_round(cfg: Any, run_path: Path, reporter: Any) -> dict[str, Any]:
    from ticketsim.pipeline import run_all
    from ticketsim.rundir import RunDir

    t0 = time.perf_counter()
    results = run_all(cfg, RunDir(run_path), reporter=reporter)
    by = {r.stage: r for r in results}
    ev = by["evaluate"].summary
    ci = (ev.get("ci") or {}).get("per_system", {}).get("finetuned", {})
    details = json.loads((run_path / "evaluate" / "details.json").read_text())
    return {"mrr@10": ev["systems"]["finetuned"]["mrr@10"],
            "per_query": dict(zip(details["query_ids"],
                                  details["per_query"]["finetuned"]["mrr@10"], strict=True)),
            "ci95": [ci.get("low"), ci.get("high")],
            "recall@10": ev["systems"]["finetuned"].get("recall@10"),
            "base_mrr@10": ev["systems"].get("base", {}).get("mrr@10"),
            "queries": ev.get("n_queries"), "train_rows": by["train"].summary.get("train_rows"),
            "seconds": time.perf_counter() - t0}


def simulate(args: argparse.Namespace, seed: int, work: Path, start: float) -> dict[str, Any]:
    """One desk (demo history of ``seed``): round 0, then every strategy's rounds."""
    import pandas as pd

    from ticketsim.active.candidates import pool_for_run
    from ticketsim.active.strategies import build_strategy
    from ticketsim.config import config_from_dict
    from ticketsim.data.demo import generate_demo
    from ticketsim.data.store import LinksStore
    from ticketsim.models import resolve_model
    from ticketsim.progress import NULL
    from ticketsim.rundir import RunDir

    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    demo = generate_demo(data, n_tickets=args.tickets, seed=seed,
                         heldout_fraction=args.heldout_fraction)
    truth = json.loads(demo.truth_json.read_text())
    oracle = Oracle(truth)
    links = initial_links(data, truth, args.seed_labels, seed)

    def cfg_for(store: Path, systems: tuple[str, ...] = ("finetuned",)) -> Any:
        tree = config_tree(data, store, args, seed)
        tree["evaluate"]["systems"] = list(systems)
        tree["train"]["base_model"] = resolve_model("default")
        return config_from_dict(tree)

    # round 0: shared by every strategy
    base_store = work / "round0.sqlite"
    cfg0 = cfg_for(base_store, ("base", "finetuned"))  # the off-the-shelf model for scale
    r0 = run_round(cfg0, work / "round0", NULL)
    split = pd.read_parquet(work / "round0" / "pairs" / "split.parquet")
    train_ids = set(split.id[split.split == "train"].astype(str))
    print(f"seed {seed} round 0: {len(links)} links ({args.seed_labels} training), MRR@10 "
          f"{r0['mrr@10']:.4f} (base {r0['base_mrr@10']:.4f}), {r0['queries']} queries, "
          f"{r0['seconds']:.0f} s", file=sys.stderr)

    curves: dict[str, list[dict[str, Any]]] = {}
    per_query: dict[str, list[dict[str, float]]] = {}
    asked: dict[str, list[dict[str, Any]]] = {}
    for name in args.strategies.split(","):
        store_path = work / f"{name}.sqlite"
        shutil.copy(base_store, store_path)
        cfg = cfg_for(store_path)
        prev = work / "round0"
        curve = [{"round": 0, "labels": 0, "mrr@10": r0["mrr@10"], "positives_found": 0}]
        found = 0
        per_query[name] = [r0["per_query"]]
        asked[name] = []
        for rnd in range(1, args.rounds + 1):
            pool = pool_for_run(cfg, RunDir(prev), allowed_ids=train_ids)
            chosen = build_strategy(cfg.label, name).select(pool, args.k)
            answers = [(r.a, r.b, *oracle.answer(r.a, r.b)) for r in chosen.itertuples()]
            LinksStore(store_path).add([(a, b, lab, None, kind) for a, b, lab, kind, _ in answers],
                                       source=f"sim:{name}", who="oracle")
            pos = sum(lab for _, _, lab, _, _ in answers)
            found += pos
            asked[name].append({"round": rnd, "pool": len(pool), "asked": len(answers),
                                "answers": {n: sum(x[4] == n for x in answers)
                                            for n in ("duplicate", "related", "not related")}})
            run_path = work / f"{name}-r{rnd}"
            res = run_round(cfg, run_path, NULL)
            per_query[name].append(res["per_query"])
            curve.append({"round": rnd, "labels": rnd * args.k, "mrr@10": res["mrr@10"],
                          "ci95": res["ci95"],
                          "recall@10": res["recall@10"], "positives_found": found,
                          "train_rows": res["train_rows"], "seconds": round(res["seconds"], 1)})
            print(f"seed {seed} {name} round {rnd}: {rnd * args.k} labels ({pos} positive), "
                  f"MRR@10 {res['mrr@10']:.4f}, {res['seconds']:.0f} s "
                  f"[{time.perf_counter() - start:.0f} s total]", file=sys.stderr)
            if prev != work / "round0":
                shutil.rmtree(prev / "train", ignore_errors=True)
            prev = run_path
        curves[name] = curve
    return {"seed": seed, "r0": r0, "curves": curves, "per_query": per_query, "asked": asked}


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, curve in result["curves"].items():
        ax.plot([p["labels"] for p in curve], [p["mrr@10"] for p in curve], marker="o",
                label=name, linestyle="--" if name == "random" else "-")
    ax.set_xlabel("labels asked (pairs)")
    ax.set_ylabel("held-out MRR@10")
    base = result["round0"].get("base_mrr@10")
    if base is not None:
        ax.axhline(base, color="grey", linewidth=1, linestyle=":", label="off-the-shelf MiniLM")
    st = result["setup"]
    ax.set_title(f"active learning: {st['repeats']} desks x {st['tickets']} demo tickets\n"
                 f"({st['queries']} held-out queries pooled, {st['loss']} margin {st.get('margin')}, "
                 f"{st['epochs']} epochs)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    from ticketsim.rundir import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--large", action="store_true",
                    help="3,000 tickets, 8 rounds of 30 labels (about 40 minutes on 2 cores)")
    ap.add_argument("--tickets", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--k", type=int, default=30, help="labels asked per round")
    ap.add_argument("--seed-labels", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=None, help="train.learning_rate (default: 3e-5)")
    ap.add_argument("--heldout-fraction", type=float, default=0.3,
                    help="share of the history (newest) held out as the evaluation set")
    ap.add_argument("--loss", default="online_contrastive",
                    help="online_contrastive / cosent (every answer is a row) or mnrl")
    ap.add_argument("--margin", type=float, default=0.3,
                    help="losses.contrastive.margin for (online_)contrastive; at the loss's own "
                         "0.5 random answers teach as much as chosen ones (docs/active_learning.md)")
    ap.add_argument("--candidates-k", type=int, default=10,
                    help="model and BM25 neighbours per ticket in the pool (the product default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=2,
                    help="independent desks (demo and training seeds seed, seed+1, ...); curves "
                         "are the MRR@10 over all their held-out queries")
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=RESULTS / "active_learning.json")
    ap.add_argument("--png", type=Path, default=RESULTS / "active_learning.png")
    args = ap.parse_args(argv)
    if args.large:
        args.tickets, args.rounds, args.k = 3000, 8, 30

    start = time.perf_counter()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="ticketsim-al-"))
    runs = [simulate(args, args.seed + i, work / f"seed{args.seed + i}", start)
            for i in range(args.repeats)]
    curves, per_query = combine(runs)
    r0 = {"mrr@10": curves[next(iter(curves))][0]["mrr@10"],
          "base_mrr@10": float(np.mean([r["r0"]["base_mrr@10"] for r in runs])),
          "queries": sum(r["r0"]["queries"] for r in runs),
          "per_seed": [{k: v for k, v in r["r0"].items() if k != "per_query"} for r in runs]}
    asked_log = {f"seed{args.seed + i}": r["asked"] for i, r in enumerate(runs)}

    verdict = verdict_for(curves, per_query, share=0.7, seed=args.seed)
    setup = {"tickets": args.tickets, "rounds": args.rounds, "k": args.k,
             "seed_labels": args.seed_labels, "epochs": args.epochs, "seed": args.seed,
             "repeats": args.repeats, "heldout_fraction": args.heldout_fraction,
             "loss": args.loss, "margin": args.margin,
             "queries": r0["queries"], "model": "all-MiniLM-L6-v2",
             "candidates": f"{args.candidates_k} model + {args.candidates_k} BM25 neighbours "
                           "per training-period ticket",
             "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared)",
             "load_average": os.getloadavg()[0]}
    reach = verdict.get("labels_to_reach_random_final", {})
    rows = [{"system": name, "final_labels": curve[-1]["labels"],
             "final_mrr@10": curve[-1]["mrr@10"], "round0_mrr@10": r0["mrr@10"],
             "positives_found": curve[-1]["positives_found"],
             # area under the learning curve: less hostage to one noisy final round
             "mean_mrr@10_rounds": float(np.mean([p["mrr@10"] for p in curve[1:]])),
             "labels_to_reach_random_final": reach.get(name, {}).get("labels"),
             "share_of_random_labels": reach.get(name, {}).get("share_of_random")}
            for name, curve in curves.items()]
    result = {
        "benchmark": "active_learning", "settings": setup, "setup": setup, "results": rows,
        "round0": r0, "curves": curves, "asked": asked_log, "verdict": verdict,
        "seconds": round(time.perf_counter() - start, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from ticketsim.rundir import atomic_write_json

    atomic_write_json(args.out, result)
    plot(result, args.png)
    print(json.dumps({"curves": {k: [(p["labels"], round(p["mrr@10"], 4)) for p in v]
                                 for k, v in curves.items()}, "verdict": verdict,
                      "seconds": result["seconds"]}, indent=1))
    print(f"{'strategy':<14}" + "".join(f"{p['labels']:>9}" for p in next(iter(curves.values()))))
    for name, curve in curves.items():
        print(f"{name:<14}" + "".join(f"{p['mrr@10']:>9.4f}" for p in curve))
    for row in rows:
        share = row["share_of_random_labels"]
        print(f"{row['system']:<14} labels to reach random's final "
              f"{row['labels_to_reach_random_final']} "
              f"({'never' if share is None else f'{share:.0%}'} of random's)")
    print(f"wrote {args.out} and {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
