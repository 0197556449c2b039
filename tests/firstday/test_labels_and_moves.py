"""Labels land in the run's store, runs can be copied, progress shows in logs (issue 17,
points 3-5), through the real CLI on the cold-start run."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

from firstday_helpers import cli

from ticketsim.data.store import LinksStore


def _answers(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "answer"])
        w.writerows(rows)
    return path


def test_label_import_needs_a_run_and_names_every_unknown_id(cold_run: dict,
                                                            tmp_path: Path) -> None:
    todo = _answers(tmp_path / "todo.csv", [("T001", "T002", "duplicate")])
    res = cli("label", "import", str(todo), cwd=tmp_path)  # as a new user would type it
    assert res.returncode == 2
    assert "not a run directory" in res.stderr and "--run-dir" in res.stderr
    assert not list(tmp_path.glob("*.sqlite"))  # no stray store in the working directory
    bad = _answers(tmp_path / "bad.csv", [("T001", "X9", "duplicate"), ("Y7", "T002", "n"),
                                          ("T003", "T004", "d")])
    store = LinksStore(cold_run["folder"] / "links.sqlite")
    before = len(store.history())
    res = cli("label", "import", str(bad), "--run-dir", str(cold_run["run"]))
    assert res.returncode == 2
    assert "unknown ticket ids 'X9', 'Y7'" in res.stderr and "row 2" in res.stderr
    assert len(store.history()) == before  # nothing imported, not even the good row


def test_a_copied_run_uses_its_own_model_and_store(cold_run: dict, tmp_path: Path) -> None:
    original, folder = cold_run["run"], cold_run["folder"]
    cfg_text = (original / "config.yaml").read_text()
    assert "links_store: ../links.sqlite" in cfg_text
    for f in ("config.yaml", "index/meta.json"):
        assert str(original) not in (original / f).read_text(), f
    copy = tmp_path / "moved" / "run"
    shutil.copytree(original, copy)
    hidden = original.with_name("run.away")
    original.rename(hidden)  # the original is gone while the copy works
    try:
        res = cli("search", "--run-dir", str(copy), "--json", "-k", "2", "vpn drops")
        assert res.returncode == 0, res.stderr[-2000:]
        assert len(json.loads(res.stdout)) == 2
        todo = _answers(tmp_path / "todo.csv", [("T001", "T002", "duplicate")])
        res = cli("label", "import", str(todo), "--run-dir", str(copy), "--who", "gus")
        assert res.returncode == 0, res.stderr[-2000:]
        assert "1 answers added" in res.stdout
    finally:
        hidden.rename(original)
    own = LinksStore(tmp_path / "moved" / "links.sqlite").history()
    assert own["who"].tolist() == ["gus"]
    assert "gus" not in set(LinksStore(folder / "links.sqlite").history()["who"])


def test_a_failed_stage_never_rewrites_the_run_config(cold_run: dict, tmp_path: Path) -> None:
    run = cold_run["run"]
    before = (run / "config.yaml").read_bytes()
    other = tmp_path / "other.yaml"
    other.write_text(json.dumps({"data": {"tickets": str(tmp_path / "missing.csv")}}))
    res = cli("ingest", "-c", str(other), "--run-dir", str(run))
    assert res.returncode == 2 and "missing.csv" in res.stderr
    assert (run / "config.yaml").read_bytes() == before


def test_logs_get_plain_progress_lines_and_no_foreign_bars(cold_run: dict, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(cold_run["run"], run)  # retrain a copy: the shared run stays as it is
    # a line at least every 1 ms, and one at the end of a loop that took that long: on a quiet
    # machine the tiny model's 15 steps take under 0.2 s, which printed no line at 0.2
    res = cli("train", "--run-dir", str(run), "--force", env={"TICKETSIM_PROGRESS_EVERY": "0.001"})
    assert res.returncode == 0, res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("train: ") and "elapsed" in ln]
    assert lines, res.stderr[-2000:]
    steps = json.loads((run / "train" / "summary.json").read_text())["steps"]
    last = re.fullmatch(r"train: (\d+)/(\d+) \((\d+) %\), \S+ elapsed, ~\S+ left", lines[-1])
    assert last, lines[-1]
    assert int(last[1]) == int(last[2]) == steps and last[3] == "100"  # done == steps run
    for foreign in ("Loading weights", "Computing widget examples", "it/s]", "example/s]"):
        assert foreign not in res.stderr + res.stdout, foreign
