"""Training throughput, peak memory and held-out quality: plain sentence-transformers vs ticketsim.

Systems, all with the same model, pairs, batch size, max_seq_length, loss (MNRL), epochs
and seed (the script asserts the settings each subprocess reports are identical):

- ``st-script``: the script a user writes from the sentence-transformers docs
  (SentenceTransformerTrainer + MultipleNegativesRankingLoss + no-duplicates sampler);
- ``ticketsim-full``: ``ticketsim.training.stage.run_train`` with its defaults (full
  fine-tuning, length-grouped batches: ``train.group_by_length``);
- ``ticketsim-ungrouped``: the same with ``train.group_by_length: false`` (isolates the
  effect of length grouping on speed and quality);
- ``ticketsim-lora``: full defaults plus ``train.lora.enabled`` (``--systems`` to add it).

Datasets: the Endava subset and SeaMonkey from ``../shared/data`` (ingest and pairs of
configs/endava.yaml / configs/seamonkey.yaml run in a temporary folder, or are reused from
``--runs runs`` when ``runs/<dataset>/pairs`` exists); a dataset whose data is absent is
skipped; with none present the generated demo is used. Each system runs in its own
subprocess (peak RSS is its own), systems interleaved round by round (st, full, ungrouped,
st, ...) so that load from other processes hits all of them alike; the load average is
recorded per round. pairs/s counts training time only (``trainer.train``, evaluation off);
the fastest round counts. Quality of the ticketsim systems, measured after timing on the
model of the first round (the plain script trains like ``ticketsim-ungrouped``):
MRR@10 of each held-out validation pair's positive among all held-out positives
(``pair_mrr@10``, the library's MRR), and on data with categories kNN (k=10) category
accuracy of held-out test tickets over training tickets (``routing_acc``, the library's
similarity-weighted vote, ``ticketsim.evaluation.routing.knn_labels``); the library's
paired bootstrap interval (``ticketsim.evaluation.bootstrap``) of
full minus ungrouped says whether length grouping costs quality. Then, per dataset, the
step-interleaved comparison (``interleaved_steps``): one process trains one epoch of the
same pairs with both batchings, alternating single steps, so that load from other
processes hits both alike (``--interleaved`` runs only that).

    python -m bench.train [--datasets endava,seamonkey] [--pairs 384] [--repeats 2]
                          [--runs runs] [--out bench/results/train.json] [--large]

``--large``: 2,048 pairs and 3 rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import ENDAVA_SUBSET, RESULTS, ROOT, SEAMONKEY_DIR
from ticketsim.evaluation.bootstrap import paired_difference
from ticketsim.evaluation.metrics import MAP_K, QueryMetrics
from ticketsim.evaluation.routing import knn_labels
from ticketsim.rundir import atomic_write_json

SETTINGS = {"batch_size": 32, "max_seq_length": 128, "epochs": 1.0, "seed": 42,
            "learning_rate": 3e-5}
CONFIGS = {"endava": ("configs/endava.yaml", ENDAVA_SUBSET, None),
           "seamonkey": ("configs/seamonkey.yaml", SEAMONKEY_DIR / "SeaMonkey_bugs.csv",
                         SEAMONKEY_DIR / "SeaMonkey_bugs-combined.csv")}
EVAL_PAIRS = 200
ROUTING_QUERIES, ROUTING_POOL = 200, 1000


def _prepare(name: str, work: Path) -> Path:
    """A run directory with the ingest and pairs stages of the dataset's config."""
    from ticketsim.config import load_config
    from ticketsim.pipeline import run_stage
    from ticketsim.rundir import RunDir

    sets = [f"data.links_store={work / 'links.sqlite'}"]
    if name == "demo":
        from ticketsim.data.demo import generate_demo

        data = work / "demo-data"
        generate_demo(data, n_tickets=2000, seed=0)
        config = ROOT / "configs" / "demo.yaml"
        sets += [f"data.tickets={data / 'tickets.csv'}", f"data.links={data / 'links.json'}"]
    else:
        config, tickets, links = CONFIGS[name]
        config = ROOT / config
        sets.append(f"data.tickets={tickets}")
        if links is not None:
            sets.append(f"data.links={links}")
    cfg = load_config(config, sets)
    run = RunDir(work / "run")
    run_stage("ingest", cfg, run)
    run_stage("pairs", cfg, run)
    return run.path


def _sample(run_dir: Path, n: int, out: Path) -> Path:
    """``n`` training pairs, held-out pairs and tickets for the quality measures, in ``out``."""
    import pandas as pd

    df = pd.read_parquet(run_dir / "pairs" / "train.parquet", columns=["anchor", "positive"])
    df = df.sample(min(n, len(df)), random_state=0).reset_index(drop=True)
    (out / "pairs").mkdir(parents=True, exist_ok=True)
    df.to_parquet(out / "pairs" / "train.parquet")
    (out / "pairs" / "_stamp.json").write_text(json.dumps({"stage": "pairs", "inputs_hash": "b"}))
    val = pd.read_parquet(run_dir / "pairs" / "validation.parquet", columns=["anchor", "positive"])
    val = val.drop_duplicates("positive")
    val.sample(min(EVAL_PAIRS, len(val)), random_state=0).to_parquet(out / "heldout_pairs.parquet")
    tickets = pd.read_parquet(run_dir / "ingest" / "tickets.parquet")
    if "category" in tickets and tickets["category"].dropna().astype(str).nunique() > 1:
        split = pd.read_parquet(run_dir / "pairs" / "split.parquet")
        t = tickets.merge(split, on="id")[["text", "category", "split"]].dropna()
        q = t[t["split"] == "test"]
        pool = t[t["split"] == "train"]
        pd.concat([q.sample(min(ROUTING_QUERIES, len(q)), random_state=0),
                   pool.sample(min(ROUTING_POOL, len(pool)), random_state=0)]).to_parquet(
            out / "routing.parquet")
    return out


def quality(model: Any, data: Path) -> dict[str, Any]:
    """Per-query reciprocal ranks of held-out pairs (and kNN routing hits) for ``model``."""
    import pandas as pd

    model.max_seq_length = SETTINGS["max_seq_length"]
    val = pd.read_parquet(data / "heldout_pairs.parquet")
    a = model.encode(val["anchor"].tolist(), batch_size=64, normalize_embeddings=True)
    p = model.encode(val["positive"].tolist(), batch_size=64, normalize_embeddings=True)
    sims = a @ p.T  # each anchor against every held-out positive; its own is the one relevant
    qm = QueryMetrics([str(i) for i in range(len(val))], [10])
    order = np.argsort(-sims, axis=1, kind="stable")[:, :MAP_K]
    out: dict[str, Any] = {"rr": [qm.one([(int(c), float(sims[i, c])) for c in row], {i})["mrr@10"]
                                  for i, row in enumerate(order)]}
    if (data / "routing.parquet").is_file():
        t = pd.read_parquet(data / "routing.parquet")
        emb = model.encode(t["text"].tolist(), batch_size=64, normalize_embeddings=True)
        split = t["split"].to_numpy()
        cats = t["category"].astype(str).to_numpy()
        test, train = np.flatnonzero(split == "test"), np.flatnonzero(split == "train")
        votes = knn_labels(lambda q: emb[q] @ emb.T, test, train, cats, k=10)
        out["hits"] = (np.array(votes) == cats[test]).astype(float).tolist()
    return out


def child_st(data: Path, with_quality: bool) -> dict:
    """The plain sentence-transformers script."""
    import pandas as pd
    import torch
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from ticketsim.models import resolve_model

    model = SentenceTransformer(resolve_model("default"), device="cpu")
    model.max_seq_length = SETTINGS["max_seq_length"]
    ds = Dataset.from_pandas(pd.read_parquet(data / "pairs" / "train.parquet"))
    args = SentenceTransformerTrainingArguments(
        output_dir=str(data / "st-out"), num_train_epochs=SETTINGS["epochs"],
        per_device_train_batch_size=SETTINGS["batch_size"], learning_rate=SETTINGS["learning_rate"],
        warmup_steps=0.1, batch_sampler="no_duplicates", seed=SETTINGS["seed"],
        save_strategy="no", report_to="none", disable_tqdm=True, use_cpu=True,
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds,
                                         loss=MultipleNegativesRankingLoss(model))
    t = time.perf_counter()
    trainer.train()
    secs = time.perf_counter() - t
    r = {"seconds": secs, "rows": len(ds), "model": "default", "loss": "mnrl",
         "batch_size": args.per_device_train_batch_size, "max_seq_length": model.max_seq_length,
         "epochs": args.num_train_epochs, "steps": trainer.state.global_step,
         "torch_threads": torch.get_num_threads()}
    if with_quality:
        r["quality"] = quality(model, data)
    return r


VARIANTS: dict[str, dict[str, Any]] = {
    "ticketsim-full": {},
    "ticketsim-ungrouped": {"group_by_length": False},
    "ticketsim-lora": {"lora": {"enabled": True}, "learning_rate": None},
}


def child_ticketsim(data: Path, system: str, with_quality: bool) -> dict:
    import torch
    from sentence_transformers import SentenceTransformer

    from ticketsim.config import config_from_dict
    from ticketsim.rundir import RunDir
    from ticketsim.training.stage import run_train

    train = {**{k: v for k, v in SETTINGS.items() if k != "epochs"}, **VARIANTS[system],
             "trainer": {"num_train_epochs": SETTINGS["epochs"], "eval_strategy": "no",
                         "save_steps": 10_000}}
    cfg = config_from_dict({"train": train})
    res = run_train(cfg, RunDir(data), force=True)
    s = res.summary
    r = {"seconds": s["train_seconds"], "rows": s["train_rows"], "model": cfg.train.base_model,
         "loss": cfg.train.loss, "batch_size": cfg.train.batch_size,
         "max_seq_length": s["max_seq_length"], "epochs": s["epochs"], "steps": s["steps"],
         "trainable_share": s["trainable_share"], "torch_threads": torch.get_num_threads()}
    if with_quality and (res.path / "model").is_dir():
        r["quality"] = quality(SentenceTransformer(str(res.path / "model"), device="cpu"), data)
    return r


def child(system: str, data: Path, with_quality: bool) -> dict:
    """One system's run, in this (child) process; adds its peak RSS."""
    import resource

    r = (child_st(data, with_quality) if system == "st-script"
         else child_ticketsim(data, system, with_quality))
    r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return r


def run_child(system: str, data: Path, with_quality: bool) -> dict:
    cmd = [sys.executable, "-m", "bench.train", "--child", system, "--child-data", str(data)]
    if with_quality:
        cmd.append("--child-quality")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        raise SystemExit(f"{system} failed:\n{out.stderr[-3000:]}")
    r = json.loads(line[6:])
    r["pairs_per_s"] = r["rows"] * r["epochs"] / r["seconds"]
    return r


def interleaved_steps(data: Path, rounds: int = 1, *, model_name: str = "default",
                      settings: dict[str, Any] | None = None,
                      group_batches: int = 16) -> dict[str, Any]:
    """Both batchings' training steps, alternated step by step in one process.

    The same model, loss (MNRL), optimizer and padding per batch as the trainer; only the
    batches differ: sentence-transformers' NoDuplicatesBatchSampler against ticketsim's
    length-grouped one, over one epoch of the same pairs each. Alternating single steps
    makes a busy machine's load hit both alike, which end-to-end runs minutes apart cannot
    promise. ``settings`` overrides :data:`SETTINGS` (batch_size, max_seq_length,
    learning_rate, seed), e.g. with a run's recipe. Returns seconds and padded token
    positions per system.
    """
    import pandas as pd
    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.sampler import NoDuplicatesBatchSampler
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from ticketsim.models import resolve_model
    from ticketsim.training.sampler import LengthGrouped

    st = {**SETTINGS, **(settings or {})}
    model = SentenceTransformer(resolve_model(model_name), device="cpu")
    model.max_seq_length = st["max_seq_length"]
    model.train()
    df = pd.read_parquet(data / "pairs" / "train.parquet")
    ds = Dataset.from_pandas(df, preserve_index=False)
    kw = {"batch_size": st["batch_size"], "drop_last": False, "seed": st["seed"]}
    samplers = {"st-script": NoDuplicatesBatchSampler(ds, **kw),
                "ticketsim-full": LengthGrouped(model.tokenizer, st["max_seq_length"], group_batches,
                                                True)(ds, **kw)}
    loss = MultipleNegativesRankingLoss(model)
    opt = torch.optim.AdamW(model.parameters(), lr=st["learning_rate"])
    secs = {k: 0.0 for k in samplers}
    positions = {k: 0 for k in samplers}
    cols = ["anchor", "positive"]
    for rnd in range(rounds):
        batches = {k: [list(b) for b in (s.set_epoch(rnd) or s)] for k, s in samplers.items()}
        for i in range(max(len(b) for b in batches.values())):
            for k in (("st-script", "ticketsim-full") if i % 2 == 0 else
                      ("ticketsim-full", "st-script")):
                if i >= len(batches[k]):
                    continue
                rows = df.iloc[batches[k][i]]
                t = time.perf_counter()
                feats = [model.preprocess(rows[c].tolist()) for c in cols]
                loss(feats, None).backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
                secs[k] += time.perf_counter() - t
                positions[k] += sum(int(f["input_ids"].numel()) for f in feats)
    n = len(df) * rounds
    return {"pairs": len(df), "rounds": rounds, "threads": torch.get_num_threads(),
            "batch_size": st["batch_size"], "max_seq_length": st["max_seq_length"],
            "learning_rate": st["learning_rate"], "loss": "mnrl",
            "results": [{"system": k, "seconds": round(secs[k], 1),
                         "pairs_per_s": round(n / secs[k], 2),
                         "vs_st_script": round(secs["st-script"] / secs[k], 3),
                         "padded_positions": positions[k],
                         "positions_vs_st": round(positions["st-script"] / positions[k], 3)}
                        for k in samplers]}


def paired_interval(a: list[float], b: list[float]) -> dict[str, float]:
    """Mean of a - b over the same queries with the library's 95 % paired bootstrap interval."""
    d = paired_difference(np.asarray(a), np.asarray(b), samples=2000, seed=0, confidence=0.95)
    return {"diff": round(d["diff"], 4), "low": round(d["low"], 4), "high": round(d["high"], 4),
            "queries": len(a)}


def bench_dataset(name: str, source: Path, systems: list[str], n_pairs: int, repeats: int,
                  work: Path) -> dict[str, Any]:
    data = _sample(source, n_pairs, work / f"{name}-bench")
    results: dict[str, dict] = {}
    runs: dict[str, list[float]] = {}
    quality_of: dict[str, dict] = {}
    loads = []
    for rnd in range(repeats):
        loads.append(round(os.getloadavg()[0], 2))
        for system in systems:
            r = run_child(system, data, with_quality=rnd == 0 and system != "st-script")
            print(f"  {name} round {rnd + 1} {system}: {r['pairs_per_s']:.2f} pairs/s "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
            if "quality" in r:
                quality_of[system] = r.pop("quality")
            runs.setdefault(system, []).append(round(r["pairs_per_s"], 2))
            if system not in results or r["pairs_per_s"] > results[system]["pairs_per_s"]:
                results[system] = r
    loads.append(round(os.getloadavg()[0], 2))
    keys = ("rows", "batch_size", "max_seq_length", "epochs", "loss")
    same = {k: {r[k] for r in results.values()} for k in keys}
    assert all(len(v) == 1 for v in same.values()), f"settings differ: {same}"
    st = results["st-script"]["pairs_per_s"]
    rows = []
    for system, r in results.items():
        q = quality_of.get(system, {})
        row = {"system": system, "pairs_per_s": round(r["pairs_per_s"], 2),
               "vs_st_script": round(r["pairs_per_s"] / st, 3),
               "vs_st_script_per_round": [round(x / y, 3) for x, y in
                                          zip(runs[system], runs["st-script"], strict=True)],
               "seconds": round(r["seconds"], 1), "steps": r["steps"],
               "peak_rss_mb": round(r["peak_rss_mb"]),
               "trainable_share": r.get("trainable_share", 1.0),
               "torch_threads": r["torch_threads"], "pairs_per_s_all_runs": runs[system]}
        if q:
            row["pair_mrr@10"] = round(float(np.mean(q["rr"])), 4)
            if "hits" in q:
                row["routing_acc"] = round(float(np.mean(q["hits"])), 4)
        rows.append(row)
    out: dict[str, Any] = {"dataset": name, "results": rows, "loadavg_1min_per_round": loads,
                           "settings": {k: next(iter(v)) for k, v in same.items()}}
    full, plain = quality_of.get("ticketsim-full"), quality_of.get("ticketsim-ungrouped")
    if full and plain:
        out["grouped_minus_ungrouped"] = {"pair_mrr@10": paired_interval(full["rr"], plain["rr"])}
        if "hits" in full:
            out["grouped_minus_ungrouped"]["routing_acc"] = paired_interval(full["hits"],
                                                                            plain["hits"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="endava,seamonkey")
    ap.add_argument("--runs", type=Path, default=None,
                    help="folder with <dataset>/pairs already built (else built in a temp folder)")
    ap.add_argument("--pairs", type=int, default=None, help="training pairs (384; 2048 --large)")
    ap.add_argument("--systems", default="st-script,ticketsim-full,ticketsim-ungrouped")
    ap.add_argument("--out", type=Path, default=RESULTS / "train.json")
    ap.add_argument("--repeats", type=int, default=None, help="interleaved rounds (2; 3 --large)")
    ap.add_argument("--large", action="store_true")
    ap.add_argument("--interleaved", action="store_true",
                    help="only the step-interleaved comparison (one process, both batchings "
                    "alternated step by step, one epoch; run after the end-to-end one "
                    "otherwise): robust on a busy machine")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-data", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-quality", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print("RESULT" + json.dumps(child(a.child, a.child_data, a.child_quality)))
        return
    n_pairs = a.pairs or (2048 if a.large else 384)
    repeats = a.repeats or (3 if a.large else 2)
    systems = a.systems.split(",")
    if "st-script" not in systems:
        systems.insert(0, "st-script")
    wanted = [d for d in a.datasets.split(",") if d]
    skipped = [f"{d}: {CONFIGS[d][1]} absent" for d in wanted
               if d in CONFIGS and not CONFIGS[d][1].is_file()]
    present = [d for d in wanted if d == "demo" or (d in CONFIGS and CONFIGS[d][1].is_file())]
    if not present:
        present = ["demo"]
    started = time.perf_counter()
    inter: list[dict[str, Any]] = []
    datasets = []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        for name in present:
            source = a.runs / name if a.runs else None
            if source is None or not (source / "pairs" / "train.parquet").is_file():
                source = _prepare(name, Path(tmp) / f"{name}-prep")
            if not a.interleaved:
                datasets.append(bench_dataset(name, source, systems, n_pairs, repeats, Path(tmp)))
            data = _sample(source, n_pairs, Path(tmp) / f"{name}-steps")
            load = os.getloadavg()[0]
            res = interleaved_steps(data, 1)
            inter.append({"dataset": name, **res,
                          "loadavg_1min": [round(load, 2), round(os.getloadavg()[0], 2)]})
            for r in res["results"]:
                print(f"{name:10} {r['system']:16} {r['pairs_per_s']:7.2f} pairs/s "
                      f"{r['vs_st_script']:5.2f}x  padded positions {r['positions_vs_st']:.2f}x "
                      "fewer (step-interleaved)", flush=True)
    interleaved = {"settings": {"pairs": n_pairs, "batch_size": SETTINGS["batch_size"],
                                "max_seq_length": SETTINGS["max_seq_length"], "loss": "mnrl"},
                   "datasets": inter}
    if a.interleaved:
        atomic_write_json(a.out, {"benchmark": "train-interleaved", **interleaved,
                                  "skipped": skipped})
        return
    report = {"benchmark": "train",
              "settings": {"pairs": n_pairs, "model": "all-MiniLM-L6-v2",
                           "loss": "mnrl (no-duplicates sampler)", "batch_size": SETTINGS[
                               "batch_size"], "max_seq_length": SETTINGS["max_seq_length"],
                           "learning_rate": SETTINGS["learning_rate"], "seed": SETTINGS["seed"],
                           "repeats": repeats, "systems": systems},
              "machine": {"cpu_count": os.cpu_count(),
                          "omp_num_threads": os.environ.get("OMP_NUM_THREADS")},
              "wall_s": round(time.perf_counter() - started, 1),
              "datasets": datasets, "interleaved": interleaved, "skipped": skipped}
    atomic_write_json(a.out, report)
    print(f"\n{'dataset':10} {'system':20} {'pairs/s':>8} {'vs ST':>6} {'rounds':>14} "
          f"{'pairMRR':>8} {'routing':>8} {'peak MB':>8}")
    for d in datasets:
        for r in d["results"]:
            rounds = "/".join(f"{x:.2f}" for x in r["vs_st_script_per_round"])
            print(f"{d['dataset']:10} {r['system']:20} {r['pairs_per_s']:8.1f} "
                  f"{r['vs_st_script']:6.2f} {rounds:>14} {r.get('pair_mrr@10', float('nan')):8.3f} "
                  f"{r.get('routing_acc', float('nan')):8.3f} {r['peak_rss_mb']:8.0f}")
        for k, v in d.get("grouped_minus_ungrouped", {}).items():
            print(f"  {d['dataset']}: grouped - ungrouped {k} {v['diff']:+.4f} "
                  f"[{v['low']:+.4f}, {v['high']:+.4f}] over {v['queries']} queries")
        print(f"  load average per round: {d['loadavg_1min_per_round']}")
    print(f"\nwrote {a.out}")


if __name__ == "__main__":
    main()
