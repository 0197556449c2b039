"""``python -m bench.run_all``: runs every benchmark with the agreed flags, collects JSON, reports failures.

Tested through its command line on a copy of the bench package whose benchmarks are fakes
(the real ones take minutes); the runner, its README renderer and helpers are the real files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
INFRA = ("__init__.py", "run_all.py", "_readme.py", "_common.py")  # the runner, not benchmarks

FAKE = '''
import argparse, json, sys
p = argparse.ArgumentParser(); p.add_argument("--out"); p.add_argument("--large", action="store_true")
a = p.parse_args()
rows = [{"system": "x", "tickets_per_s": 100.0 if a.large else 10.0}]
json.dump({"benchmark": "NAME", "settings": {}, "results": rows, "skipped": []}, open(a.out, "w"))
print("table of NAME")
'''


def _bench_dir(tmp_path: Path, failing: bool = False) -> Path:
    bench = tmp_path / "repo" / "bench"
    bench.mkdir(parents=True)
    for name in INFRA:
        shutil.copy(BENCH / name, bench / name)
    for name in ("encode", "search"):
        (bench / f"{name}.py").write_text(FAKE.replace("NAME", name))
    (bench / "_helpers.py").write_text("raise SystemExit(3)\n")  # not a benchmark
    (bench.parent / "README.md").write_text("# x\n\n<!-- bench:start -->\nold\n<!-- bench:end -->\n")
    if failing:
        (bench / "train.py").write_text("import sys; sys.exit(4)\n")
    return bench


def test_runs_every_script_and_writes_summary(tmp_path: Path) -> None:
    bench = _bench_dir(tmp_path)
    res = subprocess.run([sys.executable, "-m", "bench.run_all", "--large"], cwd=bench.parent,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    summary = json.loads((bench / "results" / "summary-large.json").read_text())
    assert [e["benchmark"] for e in summary["benchmarks"]] == ["encode", "search"]
    assert all(e["status"] == "ok" and "--large" in e["command"] for e in summary["benchmarks"])
    data = json.loads((bench / "results" / "encode-large.json").read_text())
    assert data["results"][0]["tickets_per_s"] == 100.0
    assert "100.000" in res.stdout and "table of search" in res.stdout


def test_a_failing_script_fails_the_run_but_others_still_run(tmp_path: Path) -> None:
    bench = _bench_dir(tmp_path, failing=True)
    res = subprocess.run([sys.executable, "-m", "bench.run_all"], cwd=bench.parent, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 1
    summary = json.loads((bench / "results" / "summary.json").read_text())
    status = {e["benchmark"]: e["status"] for e in summary["benchmarks"]}
    assert status == {"encode": "ok", "search": "ok", "train": "failed (exit 4)"}


def test_large_only_scripts_stay_out_of_the_small_run(tmp_path: Path) -> None:
    bench = _bench_dir(tmp_path)
    (bench / "active_learning.py").write_text(FAKE.replace("NAME", "active_learning"))
    small = subprocess.run([sys.executable, "-m", "bench.run_all"], cwd=bench.parent, capture_output=True,
                           text=True, timeout=120)
    assert small.returncode == 0, small.stderr
    names = [e["benchmark"] for e in
             json.loads((bench / "results" / "summary.json").read_text())["benchmarks"]]
    assert names == ["encode", "search"] and "not in the small run: active_learning" in small.stdout
    subprocess.run([sys.executable, "-m", "bench.run_all", "--large"], cwd=bench.parent, check=True,
                   capture_output=True, timeout=120)
    large = json.loads((bench / "results" / "summary-large.json").read_text())["benchmarks"]
    assert [e["benchmark"] for e in large] == ["encode", "active_learning", "search"]  # encode first


def test_readme_tables_are_regenerated_from_results(tmp_path: Path) -> None:
    bench = _bench_dir(tmp_path)
    (bench / "train.py").write_text(FAKE.replace("NAME", "train").replace(
        '"tickets_per_s": 100.0 if a.large else 10.0', '"pairs_per_s": 19.25, "vs_st_script": 1.01')
        .replace('"settings": {}', '"settings": {"rows": 433, "batch_size": 32, '
                 '"max_seq_length": 128, "epochs": 1.0}'))
    readme = bench.parent / "README.md"  # a small run regenerates its tables
    readme.write_text("# x\n\n<!-- bench:start -->\nold\n<!-- bench:end -->\n\n## After\n")
    res = subprocess.run([sys.executable, "-m", "bench.run_all"], cwd=bench.parent, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    text = readme.read_text()
    assert "old" not in text and text.endswith("<!-- bench:end -->\n\n## After\n")
    assert "| x | 19.2 | 1.01 | - |" in text  # the train row: pairs/s, ratio, missing peak MB


def _stages(wall: float) -> dict:
    return {s: {"wall_s": wall, "peak_rss_mb": 100} for s in
            ("ingest", "pairs", "train", "evaluate", "index")}


def test_pipeline_merge_keeps_datasets_this_invocation_did_not_run(monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH.parent))
    from bench.pipeline import merged

    old = {"settings": {"datasets": ["endava-large"]},
           "datasets": [{"dataset": "endava-large", "v": 1}, {"dataset": "seamonkey", "v": 1}],
           "comparisons": [{"dataset": "endava-large", "v": 1}]}
    datasets, comparisons, names = merged(old, [{"dataset": "seamonkey", "v": 2}], [],
                                          ["seamonkey"])
    assert datasets == [{"dataset": "endava-large", "v": 1}, {"dataset": "seamonkey", "v": 2}]
    assert comparisons == [{"dataset": "endava-large", "v": 1}]
    assert names == ["endava-large", "seamonkey"]


def test_pipeline_table_marks_reused_runs_and_shows_the_plain_reference(monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH.parent))
    from bench._readme import _pipeline

    ref = {"train": {"pairs": 384, "batch_size": 32, "max_seq_length": 128,
                     "results": [{"system": "st-script", "pairs_per_s": 4.0, "vs_st_script": 1.0},
                                 {"system": "ticketsim-full", "pairs_per_s": 8.5,
                                  "vs_st_script": 2.125}]},
           "encode": {"texts": 4000, "encoder": "onnx-int8",
                      "results": [{"system": "st-encode", "texts_per_s": 120.0, "vs_st_encode": 1.0},
                                  {"system": "ticketsim", "texts_per_s": 390.0,
                                   "vs_st_encode": 3.25}]}}
    rep = {"datasets": [
        {"dataset": "endava-large", "plain_reference": ref,
         "results": [{"wall_s": 950.0, "peak_rss_mb": 4000, "stages": _stages(10)},
                     {"wall_s": 1.0}]},
        {"dataset": "endava-large-plain", "reused": True, "finished": "2026-11-28 11:00 UTC",
         "results": [{"wall_s": 5698.0, "peak_rss_mb": None, "stages": _stages(20)}]}]}
    text = "\n".join(_pipeline(rep))
    assert "| endava-large | 950 | 10 (100 MB)" in text
    assert "| endava-large-plain (earlier run, 2026-11-28 11:00 UTC) | 5,698 |" in text
    assert "| - | - |" in text  # the reused run: no peak and no warm rerun measured here
    assert "| train | ticketsim-full | 8.50 pairs | 2.12x |" in text
    assert "| encode | ticketsim (onnx-int8) | 390.0 texts | 3.25x |" in text
