"""Pairs ablation: random vs BM25 vs model-mined negatives on the demo data, and k-fold on SeaMonkey.

Follows bench/run_all.py's contract. Small mode (default): demo data (2,000 tickets),
the pairs stage once per negative strategy, reporting how hard each strategy's negatives
are (mean BM25 rank among training tickets, base-model cosine) next to random ones, and
the stage's wall time. ``--train`` (or ``--large``) also trains MNRL with one mined
negative per pair (triplets) for each strategy and evaluates on the held-out links
(MRR@10, Recall@10 of BM25, base and fine-tuned). ``--seamonkey`` runs the links-only
SeaMonkey data k-fold over duplicate clusters (links + views as positives) and reports
the mean over folds; it skips when ../shared/data is absent.

    python -m bench.pairs_ablation --out bench/results/pairs_ablation.json [--train] [--seamonkey]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import RESULTS, ROOT
from bench._common import SEAMONKEY_DIR as SHARED
from ticketsim.rundir import RunDir

STRATEGIES = ["random", "bm25", "model"]


def _demo_tree(data: Path, store: Path, strategy: str, train: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": {"tickets": str(data / "tickets.csv"), "links": str(data / "links.json"),
                 "links_store": str(store),
                 "columns": {"id": "number", "category": "category", "subcategory": "subcategory",
                             "created": "opened_at", "extra": ["resolution_notes"]}},
        "pairs": {"split": {"method": "time"}, "negatives": {"strategy": strategy}},
        "train": {"losses": {"mnrl": {"hard_negatives": 1}}, **train},
        "evaluate": {"systems": ["bm25", "base", "finetuned"], "bootstrap": {"samples": 200}},
    }


def _metrics(run_path: Path) -> dict[str, dict[str, float]]:
    m = RunDir(run_path).summary("evaluate")
    return {name: {k: round(float(v), 4) for k, v in vals.items()
                   if k in ("mrr@10", "recall@10", "recall@1")}
            for name, vals in m["systems"].items()}


def demo(work: Path, do_train: bool, epochs: float) -> list[dict[str, Any]]:
    from ticketsim.config import config_from_dict
    from ticketsim.data.demo import generate_demo
    from ticketsim.pipeline import run_stage

    data = work / "demo-data"
    generate_demo(data, n_tickets=2000, seed=0)
    rows = []
    for strategy in STRATEGIES:
        cfg = config_from_dict(_demo_tree(data, work / "links.sqlite", strategy,
                                          {"trainer": {"num_train_epochs": epochs}, "batch_size": 32,
                                           "max_seq_length": 128}))
        run = RunDir(work / f"run-{strategy}")
        run_stage("ingest", cfg, run)
        t0 = time.perf_counter()
        res = run_stage("pairs", cfg, run, force=True)
        wall = time.perf_counter() - t0
        tr = res.summary["train"]
        h = tr.get("hardness", {})
        row: dict[str, Any] = {
            "system": f"negatives={strategy}", "pairs_wall_s": round(wall, 1),
            "train_rows": tr["rows"], "anchors_without_negative": tr["negatives"]["anchors_without"],
            "neg_bm25_rank": round(h["bm25_rank"]["mined"], 1),
            "random_bm25_rank": round(h["bm25_rank"]["random"], 1),
            "neg_base_cosine": round(h["model_similarity"]["mined"], 3),
            "random_base_cosine": round(h["model_similarity"]["random"], 3),
        }
        if do_train:
            t0 = time.perf_counter()
            run_stage("train", cfg, run, force=True)
            run_stage("evaluate", cfg, run, force=True)
            row["train_eval_wall_s"] = round(time.perf_counter() - t0, 1)
            met = _metrics(run.path)
            row.update({f"{sys_}_{k}": v for sys_, vals in met.items() for k, v in vals.items()})
            row["mrr@10"] = met.get("finetuned", {}).get("mrr@10")
            row["recall@10"] = met.get("finetuned", {}).get("recall@10")
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def seamonkey(work: Path, folds: int, epochs: float) -> list[dict[str, Any]]:
    from ticketsim.config import load_config
    from ticketsim.pipeline import run_stage

    per_fold = []
    for fold in range(folds):
        cfg = load_config(ROOT / "configs" / "seamonkey.yaml", [
            f"data.links_store={work / 'sm-links.sqlite'}",
            "pairs.split.method=kfold", f"pairs.split.folds={folds}", f"pairs.split.fold={fold}",
            "pairs.split.validation_fraction=0.0", "pairs.positives.views=always",
            "pairs.negatives.strategy=bm25", "pairs.negatives.exclude_same_category=false",
            f"train.trainer.num_train_epochs={epochs}", "train.max_seq_length=128", "train.batch_size=32",
            "evaluate.systems=[bm25, base, finetuned]",
            "evaluate.bootstrap.samples=200",
        ])
        run = RunDir(work / f"sm-fold{fold}")
        for stage in ("ingest", "pairs", "train", "evaluate"):
            run_stage(stage, cfg, run, force=stage != "ingest")
        met = _metrics(run.path)
        per_fold.append(met)
        print(json.dumps({"fold": fold, **met}), flush=True)
    rows = []
    for system in per_fold[0]:
        row: dict[str, Any] = {"system": system}
        for k in ("mrr@10", "recall@10"):
            vals = [f[system][k] for f in per_fold if system in f]
            row[k] = round(sum(vals) / len(vals), 4)
            row[f"{k}_per_fold"] = vals
        rows.append(row)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=RESULTS / "pairs_ablation.json")
    ap.add_argument("--large", action="store_true", help="train and evaluate every strategy")
    ap.add_argument("--train", action="store_true", help="train and evaluate every strategy")
    ap.add_argument("--seamonkey", action="store_true", help="k-fold run on SeaMonkey links")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--work", type=Path, default=None, help="keep run folders here")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="pairs-ablation-"))
    work.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {
        "benchmark": "pairs_ablation",
        "settings": {"data": "demo 2000 tickets seed 0, time split", "loss": "mnrl + 1 negative",
                     "epochs": args.epochs, "hardness_sample": 200},
        "datasets": [], "skipped": [],
    }
    out["datasets"].append({"dataset": "demo", "results": demo(work, args.train or args.large,
                                                               args.epochs)})
    if args.seamonkey or args.large:
        if SHARED.is_dir():
            out["datasets"].append({"dataset": "seamonkey_kfold",
                                    "results": seamonkey(work, args.folds, args.epochs)})
        else:
            out["skipped"].append("seamonkey: ../shared/data absent")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    for ds in out["datasets"]:
        print(f"\n{ds['dataset']}")
        for row in ds["results"]:
            print("  " + ", ".join(f"{k}={v}" for k, v in row.items() if not isinstance(v, list)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
