"""Run every benchmark script in bench/ and print one summary table (``make bench``).

The contract every ``bench/<name>.py`` follows (run_all relies on nothing else):

- it runs standalone from the repository root:
  ``python -m bench.<name> [--large] --out bench/results/<name>.json``;
- without ``--large`` it finishes in a few minutes (the small settings; all scripts together
  stay under 20 minutes on 2 cores); ``--large`` is the no-limit run;
- it writes one JSON object to ``--out`` and prints its own table on stdout;
- exit code 0 on success, including "skipped because the data is absent" (then the JSON
  has a non-empty ``"skipped"`` list); non-zero means the benchmark failed;
- the JSON holds ``"benchmark"`` (name), ``"settings"`` (what was held identical across
  the systems compared) and either ``"results"`` (a list of rows, one per system, each
  with a ``"system"`` key) or ``"datasets"`` (a list of ``{"dataset": ..., "results": [...]}``).

Files starting with ``_`` and this runner are not benchmarks. Results land under
``bench/results/`` (``summary.json`` lists every script's status, time and file). Scripts in
``LARGE_ONLY`` run only with ``--large`` (they cannot fit the 20-minute small run). After a
run (small or ``--large``) the README's "Performance" tables are regenerated from the
results (``bench/_readme.py``; the large runs' tables when their files exist), so the
README always shows the latest ``make bench`` and ``make bench-large``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench._common import BENCH, RESULTS, ROOT
from bench._readme import update_readme
from ticketsim.rundir import atomic_write_json

# the columns shown in the summary table, when a benchmark reports them
HEADLINE = ["tickets_per_s", "speedup_vs_st_encode", "peak_rss_mb", "fraction_of_matmul_peak",
            "pairs_per_s", "wall_s", "p50_ms", "p99_ms", "recall@10", "mrr@10",
            "queries_per_s", "docs_per_s", "top10_overlap_to_st"]


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


# benchmark -> why it is left out of the small run
LARGE_ONLY = {
    "active_learning": "2 desks x 4 strategies x 5 rounds of retraining take ~20 min on 2 cores",
}


def discover(only: list[str] | None = None, large: bool = True) -> list[Path]:
    """The benchmark scripts present, in name order (``encode`` first: others may reuse its export)."""
    scripts = sorted(p for p in BENCH.glob("*.py")
                     if p.name != Path(__file__).name and not p.name.startswith("_"))
    if only:
        scripts = [p for p in scripts if p.stem in only]
    elif not large:
        scripts = [p for p in scripts if p.stem not in LARGE_ONLY]
    return sorted(scripts, key=lambda p: (p.stem != "encode", p.stem))


def run_script(script: Path, out: Path, large: bool, timeout: float | None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", f"bench.{script.stem}", "--out", str(out)] + (
        ["--large"] if large else [])
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(ROOT / "src"))
    t0 = time.perf_counter()
    status = "ok"
    try:
        res = subprocess.run(cmd, cwd=ROOT, env=env, timeout=timeout)
        if res.returncode != 0:
            status = f"failed (exit {res.returncode})"
    except subprocess.TimeoutExpired:
        status = f"timed out after {timeout:.0f} s"
    wall = time.perf_counter() - t0
    entry: dict[str, Any] = {"benchmark": script.stem, "status": status, "wall_s": round(wall, 1),
                             "command": " ".join(cmd[1:]), "out": _rel(out)}
    if status == "ok" and not out.is_file():
        entry["status"] = "failed (no JSON written)"
    elif status == "ok":
        entry["skipped"] = json.loads(out.read_text()).get("skipped") or []
    return entry


def rows_of(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(dataset, row) pairs of a benchmark's JSON, for either result layout."""
    if "datasets" in report:
        return [(d.get("dataset", ""), r) for d in report["datasets"] for r in d.get("results", [])]
    return [("", r) for r in report.get("results", [])]


def print_summary(entries: list[dict[str, Any]]) -> None:
    print("\n=== benchmark summary ===")
    for e in entries:
        skipped = "; ".join(e.get("skipped") or [])
        print(f"{e['benchmark']:>10}: {e['status']} in {e['wall_s']:.0f} s -> {e['out']}"
              + (f" (skipped: {skipped})" if skipped else ""))
    for e in entries:
        path = ROOT / e["out"] if not Path(e["out"]).is_absolute() else Path(e["out"])
        if e["status"] != "ok" or not path.is_file():
            continue
        rows = rows_of(json.loads(path.read_text()))
        if not rows:
            continue
        cols = [c for c in HEADLINE if any(c in r for _, r in rows)]
        print(f"\n{e['benchmark']}")
        print(f"{'dataset':>16} | {'system':>16} | " + " | ".join(f"{c:>12}" for c in cols))
        for ds, r in rows:
            cells = [f"{r[c]:>12.3f}" if isinstance(r.get(c), float) else f"{r.get(c, '')!s:>12}"
                     for c in cols]
            print(f"{ds:>16} | {r.get('system', '')!s:>16} | " + " | ".join(cells))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--large", action="store_true", help="the large settings (make bench-large)")
    p.add_argument("--only", nargs="*", help="benchmark names to run (default: all present)")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds per script (default: 1200 small, none with --large)")
    args = p.parse_args()
    timeout = args.timeout if args.timeout is not None else (None if args.large else 1200)
    args.results.mkdir(parents=True, exist_ok=True)
    suffix = "-large" if args.large else ""
    entries = []
    t0 = time.perf_counter()
    for name, why in ({} if args.large or args.only else LARGE_ONLY).items():
        print(f"(not in the small run: {name}: {why}; run `make bench-large` or "
              f"`python -m bench.run_all --only {name}`)")
    for script in discover(args.only, args.large):
        print(f"\n### {script.stem}{suffix}", flush=True)
        entries.append(run_script(script, args.results / f"{script.stem}{suffix}.json",
                                  args.large, timeout))
    summary = {"large": args.large, "total_wall_s": round(time.perf_counter() - t0, 1),
               "loadavg_end": [round(x, 2) for x in os.getloadavg()], "benchmarks": entries}
    atomic_write_json(args.results / f"summary{suffix}.json", summary)
    print_summary(entries)
    if not args.only:  # a large run adds its desk-scale tables next to the small ones
        update_readme(args.results, ROOT / "README.md")
        print("README.md: Performance table regenerated from bench/results/")
    print(f"\ntotal {summary['total_wall_s']:.0f} s; summary: "
          f"{_rel(args.results / f'summary{suffix}.json')}")
    if any(e["status"] != "ok" for e in entries):
        sys.exit(1)


if __name__ == "__main__":
    main()
