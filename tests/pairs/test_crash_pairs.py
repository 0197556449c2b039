"""SIGKILL the real `ticketsim pairs` process mid-stage: the previous pairs/ survives whole, and a
rerun ends with exactly the artifacts of an uninterrupted run (same config, same seed).

Two kill points: while the stage computes (after its "pairs: split" log line, before any file
is written) and while it writes (its temp folder `.pairs.tmp-*` exists). The export is the demo
generator's, big enough that the stage runs for seconds (BM25 mining plus the tiny model's
hardness report), so the kills land inside the stage without any hook in the library.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ticketsim.config import load_config
from ticketsim.data.demo import generate_demo
from ticketsim.data.ingest import ingest
from ticketsim.pairs.stage import run_pairs
from ticketsim.rundir import STAMP, RunDir

N_TICKETS = 600
TIMING_KEYS = {"finished", "seconds", "elapsed", "duration"}

CONFIG = """\
data:
  tickets: {data}/tickets.csv
  links: {data}/links.json
  links_store: {root}/links.sqlite
  columns: {{id: number, short_description: short_description, description: description,
            category: category, subcategory: subcategory, created: opened_at}}
pairs:
  split: {{method: time}}
  positives: {{category: false, transitive: true}}
  negatives: {{strategy: bm25, exclude_same_category: false, model: {model},
              hardness_sample: 200}}
train:
  loss: mnrl
  losses: {{mnrl: {{hard_negatives: 1}}}}
"""


@dataclasses.dataclass
class World:
    config: Path
    previous: RunDir  # ingested, with a complete pairs/ of another pairs.seed
    reference: RunDir  # ingested, with an uninterrupted pairs/ of the config itself


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> World:
    root = tmp_path_factory.mktemp("crash-pairs")
    generate_demo(root / "data", n_tickets=N_TICKETS, seed=0)
    config = root / "config.yaml"
    config.write_text(CONFIG.format(data=root / "data", root=root, model=tiny_model_dir))
    cfg = load_config(config)
    ingested = RunDir(root / "ingested")
    ingest(cfg.data, ingested)
    previous = RunDir(shutil.copytree(ingested.path, root / "previous"))
    run_pairs(load_config(config, ["pairs.seed=1"]), previous)
    reference = RunDir(shutil.copytree(ingested.path, root / "reference"))
    run_pairs(cfg, reference)
    return World(config, previous, reference)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _drop_timing(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_timing(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [_drop_timing(v) for v in obj]
    return obj


def assert_same_artifacts(got: Path, want: Path) -> None:
    """Same files; every parquet's frame, summary.json and the stamp (timing fields aside) equal."""
    names = sorted(p.name for p in got.iterdir())
    assert names == sorted(p.name for p in want.iterdir())
    assert any(n.endswith(".parquet") for n in names)
    for name in names:
        if name.endswith(".parquet"):
            pd.testing.assert_frame_equal(pd.read_parquet(got / name), pd.read_parquet(want / name),
                                          check_exact=True, obj=name)
        elif name.endswith(".json"):
            assert _drop_timing(json.loads((got / name).read_text())) == \
                _drop_timing(json.loads((want / name).read_text())), name
        else:
            assert (got / name).read_bytes() == (want / name).read_bytes(), name


def _cmd(config: Path, run: Path) -> list[str]:
    return [sys.executable, "-m", "ticketsim.cli", "pairs", "-c", str(config), "--run-dir", str(run)]


def _kill_while_computing(config: Path, run: Path) -> None:
    proc = subprocess.Popen(_cmd(config, run), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stderr is not None
    seen = ""
    for line in proc.stderr:  # the stage's first log line: split done, mining not yet
        seen += line
        if "pairs: split" in line:
            break
    time.sleep(0.3)
    assert proc.poll() is None, f"pairs ended before the kill: {seen}"
    assert not list(run.glob(".pairs.tmp-*")), "the stage was already writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()


def _kill_while_writing(config: Path, run: Path) -> list[str] | None:
    """SIGKILL once the stage's temp folder holds a file; what it held, or None when missed."""
    proc = subprocess.Popen(_cmd(config, run), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            tmp = next(e.path for e in os.scandir(run) if e.name.startswith(".pairs.tmp-"))
            if any(True for _ in os.scandir(tmp)):
                os.kill(proc.pid, signal.SIGKILL)
                break
        except (StopIteration, FileNotFoundError):
            time.sleep(0.001)
    proc.wait()
    left = list(run.glob(".pairs.tmp-*"))
    if proc.returncode != -signal.SIGKILL or not left:
        return None  # finished (or renamed its folder into place) before the kill
    return sorted(p.name for p in left[0].iterdir())


@pytest.mark.parametrize("when", ["computing", "writing"])
def test_sigkill_mid_pairs_keeps_previous_and_rerun_matches(world: World, tmp_path: Path,
                                                           when: str) -> None:
    before = _files(world.previous.path / "pairs")
    previous_hash = json.loads(before[STAMP])["inputs_hash"]
    assert previous_hash != json.loads((world.reference.path / "pairs" / STAMP).read_text())[
        "inputs_hash"]
    for attempt in range(5):  # the write phase lasts ~20 ms: retry when the poll missed it
        run = Path(shutil.copytree(world.previous.path, tmp_path / f"run{attempt}"))
        if when == "computing":
            _kill_while_computing(world.config, run)
            break
        held = _kill_while_writing(world.config, run)
        if held is not None:
            assert held  # half-written: the kill came after the first artifact
            break
    else:
        pytest.fail("never caught `ticketsim pairs` while it wrote its temp folder")

    # right after the kill: pairs/ is the previous complete folder (or, when the kill fell
    # between replace_dir's two renames, absent with the previous one parked as .pairs.old)
    final = run / "pairs"
    if final.exists():
        assert _files(final) == before
    else:
        assert _files(run / ".pairs.old") == before
    stamp = RunDir(run).read_stamp("pairs")  # reading repairs an interrupted swap
    assert stamp is not None and stamp["inputs_hash"] == previous_hash
    assert _files(final) == before

    done = subprocess.run(_cmd(world.config, run), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "inputs unchanged" not in done.stdout, done.stdout  # the killed run was never stamped
    assert_same_artifacts(final, world.reference.path / "pairs")
    assert not [p.name for p in run.iterdir() if p.name.startswith(".pairs")]
