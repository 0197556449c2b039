"""Training throughput and peak memory: plain sentence-transformers vs ticketsim (full, LoRA).

Systems, all with the same model, pairs, batch size, max_seq_length, epochs and seed
(the script asserts the settings each subprocess reports are identical):

- ``st-script``: the script a user writes from the sentence-transformers docs
  (SentenceTransformerTrainer + MultipleNegativesRankingLoss + no-duplicates sampler);
- ``ticketsim-full``: ``ticketsim.training.stage.run_train`` (full fine-tuning);
- ``ticketsim-lora``: the same with ``train.lora.enabled``.

Each runs in its own subprocess (peak RSS is its own); pairs/s counts training time only
(``trainer.train``), evaluation off. Usage:
python bench/train.py [--run-dir runs/demo] [--pairs 512] [--out bench/results/train.json]
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

SETTINGS = {"batch_size": 32, "max_seq_length": 128, "epochs": 1.0, "seed": 42,
            "learning_rate": 3e-5}


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


def run_child(system: str, data: Path) -> dict:
    code = ("import json,sys,resource; sys.path.insert(0,'bench'); import train as b; "
            f"from pathlib import Path; d=Path({str(data)!r}); "
            f"r=b.child_st(d) if {system!r}=='st-script' else "
            f"b.child_ticketsim(d, {system == 'ticketsim-lora'}); "
            "r['peak_rss_mb']=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024; "
            "print('RESULT'+json.dumps(r))")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=Path(__file__).resolve().parents[1], check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        raise SystemExit(f"{system} failed:\n{out.stderr[-3000:]}")
    r = json.loads(line[6:])
    r["pairs_per_s"] = r["rows"] * r["epochs"] / r["seconds"]
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-dir", type=Path, default=Path("runs/demo"))
    ap.add_argument("--pairs", type=int, default=512)
    ap.add_argument("--out", type=Path, default=Path("bench/results/train.json"))
    ap.add_argument("--repeats", type=int, default=1,
                    help="interleaved rounds (st, full, lora, st, ...); the fastest run counts")
    a = ap.parse_args()
    results: dict[str, dict] = {}
    runs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = _sample(a.run_dir, a.pairs, Path(tmp) / "run")
        for _ in range(a.repeats):
            for system in ("st-script", "ticketsim-full", "ticketsim-lora"):
                r = run_child(system, data)
                runs.setdefault(system, []).append(round(r["pairs_per_s"], 2))
                if system not in results or r["pairs_per_s"] > results[system]["pairs_per_s"]:
                    results[system] = r
    for system, r in results.items():
        r["pairs_per_s_all_runs"] = runs[system]
    keys = ("rows", "batch_size", "max_seq_length", "epochs")
    same = {k: {r[k] for r in results.values()} for k in keys}
    assert all(len(v) == 1 for v in same.values()), f"settings differ: {same}"
    report = {"settings": {k: next(iter(v)) for k, v in same.items()}, "model": "all-MiniLM-L6-v2",
              "cpu_threads": os.cpu_count(), "repeats": a.repeats, "systems": results,
              "ratio_full_vs_st": results["ticketsim-full"]["pairs_per_s"]
              / results["st-script"]["pairs_per_s"],
              "load_average": os.getloadavg()}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"\n{'system':16} {'pairs/s':>8} {'seconds':>8} {'peak MB':>8}")
    for name, r in results.items():
        print(f"{name:16} {r['pairs_per_s']:8.1f} {r['seconds']:8.1f} {r['peak_rss_mb']:8.0f}")


if __name__ == "__main__":
    main()
