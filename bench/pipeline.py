"""End-to-end wall time of `ticketsim run` on the demo, per stage, cold and warm.

Generates the demo data (2,000 tickets; ``--large``: 10,000), runs the real CLI
(``ticketsim run configs/demo.yaml``) in a fresh run directory, and reads each stage's
wall time from the gaps between the stages' ``finished`` stamps (each includes its
model loads); then runs it again unchanged, which must skip
every stage (the warm time is what a rerun with nothing new costs). The held-out MRR@10
of each system is reported too, so a speed change that costs quality shows here.

    python -m bench.pipeline --out bench/results/pipeline.json [--large]
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

from bench._common import RESULTS, ROOT
from ticketsim.rundir import atomic_write_json

STAGES = ["ingest", "pairs", "train", "evaluate", "index"]


def _run(cmd: list[str]) -> float:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}")
    return time.perf_counter() - t0


def _stage_seconds(run_dir: Path, started: float) -> dict[str, float]:
    """Seconds per stage: the gaps between the stages' ``finished`` stamps (epoch seconds)."""
    out, prev = {}, started
    for stage in STAGES:
        finished = float(json.loads((run_dir / stage / "_stamp.json").read_text())["finished"])
        out[stage] = round(finished - prev, 1)
        prev = finished
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=RESULTS / "pipeline.json")
    p.add_argument("--large", action="store_true", help="10,000 demo tickets")
    p.add_argument("--tickets", type=int, default=None)
    args = p.parse_args()
    n = args.tickets or (10_000 if args.large else 2000)
    cli = str(Path(sys.executable).with_name("ticketsim"))
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as td:
        tmp = Path(td)
        data, run_dir = tmp / "data", tmp / "run"
        _run([cli, "demo-data", str(data), "--tickets", str(n), "--seed", "0"])
        cmd = [cli, "run", "configs/demo.yaml", "--run-dir", str(run_dir),
               "--set", f"data.tickets={data / 'tickets.csv'}",
               "--set", f"data.links={data / 'links.json'}",
               "--set", f"data.links_store={run_dir / 'links.sqlite'}"]
        started = time.time()
        cold = _run(cmd)
        stages = _stage_seconds(run_dir, started)
        warm = _run(cmd)
        metrics = json.loads((run_dir / "evaluate" / "metrics.json").read_text())
    mrr = {name: round(float(v["mrr@10"]), 4) for name, v in metrics["systems"].items()}
    rows: list[dict[str, Any]] = [
        {"system": "ticketsim run (cold)", "wall_s": round(cold, 1), **{
            f"{s}_s": stages.get(s) for s in STAGES}, "finetuned_mrr@10": mrr.get("finetuned")},
        {"system": "ticketsim run (warm rerun)", "wall_s": round(warm, 1)},
    ]
    report = {"benchmark": "pipeline",
              "settings": {"tickets": n, "config": "configs/demo.yaml", "seed": 0},
              "machine": {"cpu_count": os.cpu_count(),
                          "loadavg_after": [round(x, 2) for x in os.getloadavg()]},
              "held_out_mrr@10": mrr, "results": rows, "skipped": []}
    atomic_write_json(args.out, report)
    print(f"ticketsim run on {n} demo tickets: cold {cold:.0f} s, warm rerun {warm:.1f} s")
    print("  per stage: " + ", ".join(f"{s} {v:.0f} s" for s, v in stages.items()))
    print("  held-out MRR@10: " + ", ".join(f"{k} {v:.3f}" for k, v in mrr.items()))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
