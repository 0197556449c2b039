"""Training throughput and peak memory: plain sentence-transformers vs ticketsim (full, LoRA).

Systems, all with the same model, pairs, batch size, max_seq_length, epochs and seed
(the script asserts the settings each subprocess reports are identical):

- ``st-script``: the script a user writes from the sentence-transformers docs
  (SentenceTransformerTrainer + MultipleNegativesRankingLoss + no-duplicates sampler);
- ``ticketsim-full``: ``ticketsim.training.stage.run_train`` (full fine-tuning);
- ``ticketsim-lora``: the same with ``train.lora.enabled``.

Each runs in its own subprocess (peak RSS is its own); pairs/s counts training time only
(``trainer.train``), evaluation off. The pairs come from ``--run-dir``'s pairs stage when it
exists (``make demo`` writes runs/demo), else the demo data is generated and the ingest and
pairs stages of configs/demo.yaml run in a temporary folder first. ``--large`` trains on
2,048 pairs (default 512) and interleaves 3 rounds (2 by default). Usage:
python -m bench.train [--run-dir runs/demo] [--pairs 512] [--repeats 2] [--out bench/results/train.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import RESULTS, ROOT
from ticketsim.rundir import atomic_write_json

SETTINGS = {"batch_size": 32, "max_seq_length": 128, "epochs": 1.0, "seed": 42,
            "learning_rate": 3e-5}


def _demo_pairs(work: Path) -> Path:
    """A run directory with the demo's pairs stage (configs/demo.yaml on generated demo data)."""
    from ticketsim.config import load_config
    from ticketsim.data.demo import generate_demo
    from ticketsim.pipeline import run_stage
    from ticketsim.rundir import RunDir

    data = work / "demo-data"
    generate_demo(data, n_tickets=2000, seed=0)
    cfg = load_config(ROOT / "configs" / "demo.yaml", [
        f"data.tickets={data / 'tickets.csv'}", f"data.links={data / 'links.json'}",
        f"data.links_store={work / 'links.sqlite'}"])
    run = RunDir(work / "demo-run")
    run_stage("ingest", cfg, run)
    run_stage("pairs", cfg, run)
    return run.path


def _sample(run_dir: Path, n: int, out: Path) -> Path:
    import pandas as pd

    df = pd.read_parquet(run_dir / "pairs" / "train.parquet", columns=["anchor", "positive"])
    df = df.sample(min(n, len(df)), random_state=0).reset_index(drop=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pairs").mkdir(exist_ok=True)
    df.to_parquet(out / "pairs" / "train.parquet")
    (out / "pairs" / "_stamp.json").write_text(json.dumps({"stage": "pairs", "inputs_hash": "b"}))
    return out


def child_st(data: Path) -> dict:
    """The plain sentence-transformers script."""
    import pandas as pd
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
    return {"seconds": secs, "rows": len(ds), "model": "default",
            "batch_size": args.per_device_train_batch_size, "max_seq_length": model.max_seq_length,
            "epochs": args.num_train_epochs}


def child_ticketsim(data: Path, lora: bool) -> dict:
    from ticketsim.config import config_from_dict
    from ticketsim.rundir import RunDir
    from ticketsim.training.stage import run_train

    train = {**SETTINGS, "eval_strategy": "no", "save_steps": 10_000}
    if lora:
        train["lora"] = {"enabled": True}
        train["learning_rate"] = None
    cfg = config_from_dict({"train": train})
    res = run_train(cfg, RunDir(data), force=True)
    s = res.summary
    return {"seconds": s["train_seconds"], "rows": s["train_rows"], "model": cfg.train.base_model,
            "batch_size": cfg.train.batch_size, "max_seq_length": s["max_seq_length"],
            "epochs": s["epochs"], "trainable_share": s["trainable_share"]}


SYSTEMS = ("st-script", "ticketsim-full", "ticketsim-lora")


def child(system: str, data: Path) -> None:
    """One system's training in this (fresh) process; prints its result line for run_child."""
    r = child_st(data) if system == "st-script" else child_ticketsim(data, system == "ticketsim-lora")
    r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT" + json.dumps(r))


def run_child(system: str, data: Path) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    out = subprocess.run([sys.executable, "-m", "bench.train", "--child", system, str(data)],
                         capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        raise SystemExit(f"{system} failed:\n{out.stderr[-3000:]}")
    r = json.loads(line[6:])
    r["pairs_per_s"] = r["rows"] * r["epochs"] / r["seconds"]
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-dir", type=Path, default=ROOT / "runs" / "demo")
    ap.add_argument("--pairs", type=int, default=None, help="training pairs (512; 2048 with --large)")
    ap.add_argument("--out", type=Path, default=RESULTS / "train.json")
    ap.add_argument("--repeats", type=int, default=None,
                    help="interleaved rounds (st, full, lora, st, ...); the fastest run counts "
                    "(2; 3 with --large)")
    ap.add_argument("--large", action="store_true")
    ap.add_argument("--child", nargs=2, metavar=("SYSTEM", "DATA"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a.child[0], Path(a.child[1]))
    n_pairs = a.pairs or (2048 if a.large else 512)
    repeats = a.repeats or (3 if a.large else 2)
    results: dict[str, dict] = {}
    runs: dict[str, list[float]] = {}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        source = a.run_dir
        if not (source / "pairs" / "train.parquet").is_file():
            source = _demo_pairs(Path(tmp) / "demo")
        data = _sample(source, n_pairs, Path(tmp) / "run")
        for _ in range(repeats):
            for system in SYSTEMS:
                r = run_child(system, data)
                runs.setdefault(system, []).append(round(r["pairs_per_s"], 2))
                if system not in results or r["pairs_per_s"] > results[system]["pairs_per_s"]:
                    results[system] = r
    keys = ("rows", "batch_size", "max_seq_length", "epochs")
    same = {k: {r[k] for r in results.values()} for k in keys}
    assert all(len(v) == 1 for v in same.values()), f"settings differ: {same}"
    st = results["st-script"]["pairs_per_s"]
    rows = []
    for system, r in results.items():
        rows.append({"system": system, "pairs_per_s": round(r["pairs_per_s"], 2),
                     "vs_st_script": round(r["pairs_per_s"] / st, 3),
                     "seconds": round(r["seconds"], 1), "peak_rss_mb": round(r["peak_rss_mb"]),
                     "trainable_share": r.get("trainable_share", 1.0),
                     "pairs_per_s_all_runs": runs[system]})
    report = {"benchmark": "train",
              "settings": {**{k: next(iter(v)) for k, v in same.items()},
                           "model": "all-MiniLM-L6-v2", "loss": "mnrl (no-duplicates sampler)",
                           "learning_rate": SETTINGS["learning_rate"], "seed": SETTINGS["seed"],
                           "repeats": repeats, "pairs_from": "run dir" if source == a.run_dir
                           else "generated demo (configs/demo.yaml)"},
              "machine": {"cpu_count": os.cpu_count(),
                          "loadavg_before": [round(x, 2) for x in load_before],
                          "loadavg_after": [round(x, 2) for x in os.getloadavg()]},
              "results": rows, "skipped": []}
    atomic_write_json(a.out, report)
    print(json.dumps(report, indent=2))
    print(f"\n{'system':16} {'pairs/s':>8} {'vs ST':>6} {'seconds':>8} {'peak MB':>8}")
    for r in rows:
        print(f"{r['system']:16} {r['pairs_per_s']:8.1f} {r['vs_st_script']:6.2f} "
              f"{r['seconds']:8.1f} {r['peak_rss_mb']:8.0f}")


if __name__ == "__main__":
    main()
