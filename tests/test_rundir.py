"""Run directory: atomic stage folders, stamps, crash recovery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ticketsim.rundir import Output, RunDir, atomic_write_json, recover_dir


def test_stage_is_renamed_into_place_only_on_success(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    with run.stage("s", "h1") as tmp:
        (tmp / "a.txt").write_text("one")
    assert run.is_fresh("s", "h1") and not run.is_fresh("s", "h2")
    with pytest.raises(RuntimeError), run.stage("s", "h2") as tmp:
        (tmp / "a.txt").write_text("two")
        raise RuntimeError("killed")
    assert (tmp_path / "s" / "a.txt").read_text() == "one"
    assert run.is_fresh("s", "h1")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_interrupted_swap_is_recovered(tmp_path: Path) -> None:
    final = tmp_path / "s"
    old = tmp_path / ".s.old"
    old.mkdir()
    (old / "x").write_text("kept")
    recover_dir(final)
    assert (final / "x").read_text() == "kept"


def test_atomic_json_leaves_no_temp_files(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "a.json", {"x": 1})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def _write_export(path: Path, n: int, tag: str) -> None:
    rows = [f"{i},{tag} vpn drops {i},<p>description {i} with <b>html</b></p>" for i in range(n)]
    path.write_text("id,short_description,description\n" + "\n".join(rows) + "\n")


def test_kill_9_during_ingest_keeps_previous_artifacts(tmp_path: Path) -> None:
    export = tmp_path / "t.csv"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  tickets: {export}\n")
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "ticketsim.cli", "ingest", "-c", str(cfg), "--run-dir", str(run)]
    _write_export(export, 50, "v1")
    subprocess.run(cmd, check=True, capture_output=True)
    before = pd.read_parquet(run / "ingest" / "tickets.parquet")

    _write_export(export, 120_000, "v2")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not list(run.glob(".ingest.tmp-*")):
        time.sleep(0.005)
    assert proc.poll() is None, "ingest finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    after_kill = pd.read_parquet(run / "ingest" / "tickets.parquet")
    pd.testing.assert_frame_equal(before, after_kill)

    subprocess.run(cmd, check=True, capture_output=True)
    rerun = pd.read_parquet(run / "ingest" / "tickets.parquet")
    fresh = tmp_path / "fresh"
    subprocess.run(cmd[:-1] + [str(fresh)], check=True, capture_output=True)
    pd.testing.assert_frame_equal(rerun, pd.read_parquet(fresh / "ingest" / "tickets.parquet"))
    assert len(rerun) == 120_000
    assert not list(run.glob(".ingest*"))


def test_a_reader_never_deletes_the_temp_folder_of_a_stage_being_written(tmp_path: Path) -> None:
    """The service polls read_stamp('index') while `ticketsim index` rebuilds the same run:
    the poll used to delete the build's temp folder (FileNotFoundError in the build)."""
    run = RunDir(tmp_path / "run")
    reader = RunDir(tmp_path / "run")
    with run.stage("index", "h1") as tmp:
        (tmp / "part").write_text("half")
        assert reader.read_stamp("index") is None  # polls while the build writes
        assert reader.read_stamp("index") is None
        assert tmp.is_dir() and (tmp / "part").read_text() == "half"
    assert reader.read_stamp("index")["inputs_hash"] == "h1"
    stale = tmp_path / "run" / ".index.tmp-dead"  # left by a killed writer: no lock held
    stale.mkdir()
    reader.read_stamp("index")
    assert not stale.exists()


def test_produce_is_the_one_way_a_stage_runs(tmp_path: Path) -> None:
    """Skip when unchanged (summary read back), else build, save into a temp folder, rename."""
    run = RunDir(tmp_path)
    calls: list[int] = []

    def build() -> Output:
        calls.append(1)
        return Output({"n": len(calls)}, lambda tmp: (tmp / "x.txt").write_text("x"))

    first = run.produce("s", "h1", build)
    assert not first.skipped and run.summary("s") == {"n": 1}
    assert (tmp_path / "s" / "x.txt").read_text() == "x"
    again = run.produce("s", "h1", build)
    assert again.skipped and again.summary == {"n": 1} and len(calls) == 1
    assert run.produce("s", "h1", build, force=True).summary == {"n": 2}
    assert not run.produce("s", "h2", build).skipped and run.summary("s") == {"n": 3}

    def fails(tmp: Path) -> None:
        (tmp / "x.txt").write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        run.produce("s", "h3", lambda: Output({"n": 9}, fails))
    assert run.summary("s") == {"n": 3} and run.is_fresh("s", "h2")  # the old folder stands
    assert (tmp_path / "s" / "x.txt").read_text() == "x"
    assert run.produce("s", "h3", build, write=False).summary == {"n": 4}  # built, not written
    assert run.summary("s") == {"n": 3}

    state = {"h": "before"}  # ingest: its inputs change while it runs (it adds to the store)

    def moves() -> Output:
        state["h"] = "after"
        return Output({}, lambda tmp: None)

    run.produce("t", lambda: state["h"], moves)
    assert run.is_fresh("t", "after") and run.produce("t", lambda: state["h"], moves).skipped


def test_train_output_reads_the_one_log_shape(tmp_path: Path) -> None:
    from ticketsim.training.stage import TrainOutput

    run = RunDir(tmp_path)
    assert TrainOutput.find(run) is None
    with run.stage("train", "h") as tmp:
        atomic_write_json(tmp / "log.json", {"log_history": [
            {"step": 1, "loss": 3.0}, {"step": 2, "eval_loss": 2.5}, {"step": 5, "loss": 1.0}]})
    out = TrainOutput.find(run)
    assert out is not None and out.model_dir is None and out.summary == {}
    assert out.loss_curve() == [(1.0, 3.0), (5.0, 1.0)]
    atomic_write_json(tmp_path / "train" / "log.json", [{"step": 1, "loss": 3.0}])
    assert out.loss_curve() == []  # another shape is not the project's file
