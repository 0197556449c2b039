"""Cold CLI search: a fresh `ticketsim search` process against a bare sentence-transformers import.

What an agent (or a script) pays for one `ticketsim search` from a cold process: start
Python, read the run's config, open the index, load the query encoder, embed, search,
print. Measured in the same run, alternating, against `python -c 'import
sentence_transformers'` (the floor of any path that loads the torch model). Systems:
`import-sentence-transformers`, `search-onnx` (index.encoder: onnx, the fast query path:
tokenizers + onnxruntime only) and `search-torch` (index.encoder: torch). Goal (issue 17):
search-onnx at most 0.2x the bare import. Data: 300 generated demo tickets indexed with
the default base model (all-MiniLM-L6-v2), no training.

    python -m bench.cold_search --out bench/results/cold_search.json [--large] [--json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import RESULTS, ROOT, emit


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "NO_COLOR": "1"}


def _cli(*args: str) -> None:
    res = subprocess.run([sys.executable, "-m", "ticketsim.cli", *args], capture_output=True,
                         text=True, env=_env(), timeout=1800)
    if res.returncode != 0:
        raise SystemExit(f"ticketsim {' '.join(args)} failed:\n{res.stderr[-2000:]}")


def build_runs(tmp: Path, tickets: int) -> dict[str, Path]:
    """Two runs over the same demo tickets: one indexed with the onnx encoder, one with torch."""
    import json

    _cli("demo-data", str(tmp / "data"), "--tickets", str(tickets), "--seed", "0")
    runs = {}
    for encoder in ("onnx", "torch"):
        cfg = tmp / f"{encoder}.yaml"
        cfg.write_text(json.dumps({"data": {
            "tickets": str(tmp / "data" / "tickets.csv"), "links_store": f"links-{encoder}.sqlite",
            "columns": {"id": "number", "short_description": "short_description",
                        "description": "description", "category": "category"}},
            "index": {"encoder": encoder}}))
        run = tmp / f"run-{encoder}"
        _cli("ingest", "-c", str(cfg), "--run-dir", str(run))
        _cli("index", "--run-dir", str(run))
        runs[encoder] = run
    return runs


def _time(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=600)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr[-2000:]}")
    return wall


def measure(runs: dict[str, Path], reps: int) -> list[dict[str, Any]]:
    """Alternate the three commands ``reps`` times (after one warm-up each: page cache)."""
    query = "vpn keeps disconnecting when I work from home"
    cmds = {
        "import-sentence-transformers": [sys.executable, "-c", "import sentence_transformers"],
        "search-onnx": [sys.executable, "-m", "ticketsim.cli", "search", "--run-dir",
                        str(runs["onnx"]), "--json", "-k", "10", query],
        "search-torch": [sys.executable, "-m", "ticketsim.cli", "search", "--run-dir",
                         str(runs["torch"]), "--json", "-k", "10", query],
    }
    for cmd in cmds.values():
        _time(cmd)
    walls: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(reps):
        for name, cmd in cmds.items():
            walls[name].append(_time(cmd))
    base = statistics.median(walls["import-sentence-transformers"])
    return [{"system": name, "median_s": round(statistics.median(w), 3),
             "min_s": round(min(w), 3), "max_s": round(max(w), 3),
             "vs_import_st": round(statistics.median(w) / base, 3), "runs": len(w)}
            for name, w in walls.items()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=RESULTS / "cold_search.json")
    p.add_argument("--large", action="store_true", help="more repetitions (15 instead of 5)")
    p.add_argument("--reps", type=int, default=None)
    p.add_argument("--tickets", type=int, default=300)
    p.add_argument("--json", action="store_true", help="print the JSON instead of the table")
    args = p.parse_args()
    reps = args.reps or (15 if args.large else 5)
    with tempfile.TemporaryDirectory(prefix="bench-cold-search-") as td:
        runs = build_runs(Path(td), args.tickets)
        results = measure(runs, reps)
    report = {"benchmark": "cold_search",
              "settings": {"tickets": args.tickets, "reps": reps, "model": "default (MiniLM-L6)",
                           "k": 10, "goal_vs_import_st": 0.2,
                           "loadavg": [round(x, 2) for x in os.getloadavg()]},
              "results": results}
    if emit(report, args.out, args.json):
        return
    print(f"{'system':>30} {'median s':>9} {'min s':>7} {'max s':>7} {'vs import ST':>13}")
    for r in results:
        print(f"{r['system']:>30} {r['median_s']:9.2f} {r['min_s']:7.2f} {r['max_s']:7.2f} "
              f"{r['vs_import_st']:13.3f}")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
