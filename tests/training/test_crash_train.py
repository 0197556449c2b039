"""SIGKILL the real `ticketsim train` process after a checkpoint: no train/ appears, and
`ticketsim train --resume` ends with the uninterrupted run's model (same seed) and files.

A kill can also land while the trainer writes a checkpoint (it writes them in place); the
torn folder it leaves is reproduced here and must be skipped by --resume.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from training_helpers import make_run

from ticketsim.config import load_config
from ticketsim.training.stage import CHECKPOINTS, run_train

PROBE = ["vpn token network", "printer jam toner", "password reset locked", "sap payroll hr"]
STEPS = 12


def _write_config(path: Path, model: Path) -> Path:
    train = {"base_model": str(model), "batch_size": 8, "max_seq_length": 32,
             "trainer": {"num_train_epochs": 1, "max_steps": STEPS, "save_steps": 2,
                         "save_total_limit": 2, "logging_steps": 1, "eval_strategy": "no"},
             "learning_rate": 1e-3, "seed": 42}
    path.write_text(yaml.safe_dump({"train": train}))
    return path


def _encode(folder: Path) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu").encode(PROBE)


def _complete(checkpoint: Path) -> bool:
    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
        return True
    except (OSError, ValueError):
        return False


def _kill_after_first_checkpoint(cmd: list[str], ck: Path) -> int:
    """SIGKILL `cmd` once a complete checkpoint exists; the step it was taken at."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    step = 0
    while proc.poll() is None and time.monotonic() < deadline:
        done = [p for p in ck.glob("checkpoint-*") if _complete(p)]
        if done:
            os.kill(proc.pid, signal.SIGKILL)
            step = max(int(p.name.split("-")[1]) for p in done)
            break
        time.sleep(0.002)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "train finished (or failed) before the kill"
    return step


def test_sigkill_mid_training_then_resume_matches_uninterrupted(tmp_path: Path,
                                                                tiny_model_dir: Path) -> None:
    config = _write_config(tmp_path / "train.yaml", tiny_model_dir)
    full = make_run(tmp_path / "full", "pair")
    run_train(load_config(config), full)  # the uninterrupted run, same config and seed

    run = make_run(tmp_path / "killed", "pair")
    cmd = [sys.executable, "-m", "ticketsim.cli", "train", "-c", str(config),
           "--run-dir", str(run.path)]
    ck = run.path / CHECKPOINTS
    step = _kill_after_first_checkpoint(cmd, ck)
    assert 0 < step < STEPS
    # nothing half-written: the stage folder only appears, renamed whole, at the very end
    assert not (run.path / "train").exists()
    assert not list(run.path.glob(".train*"))
    kept = sorted(p.name for p in ck.glob("checkpoint-*") if _complete(p))
    assert kept, "the killed run left no complete checkpoint"
    last = max(int(n.split("-")[1]) for n in kept)

    # what a kill during the next checkpoint save leaves: a newer folder without its state
    torn = ck / f"checkpoint-{last + 2}"
    shutil.copytree(ck / f"checkpoint-{last}", torn)
    (torn / "trainer_state.json").write_text('{"global_step": ')  # cut mid-write
    (torn / "model.safetensors").unlink(missing_ok=True)

    done = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"resuming from checkpoint-{last}" in done.stderr
    summary = json.loads((run.path / "train" / "summary.json").read_text())
    assert summary["resumed"] and summary["resumed_from"] == f"checkpoint-{last}"
    assert summary["steps"] == STEPS
    # the log history came back from the checkpoint and went on: every step once, the
    # same losses as the uninterrupted run
    log = json.loads((run.path / "train" / "log.json").read_text())["log_history"]
    ref = json.loads((full.path / "train" / "log.json").read_text())["log_history"]
    assert [r["step"] for r in log if "loss" in r] == list(range(1, STEPS + 1))
    np.testing.assert_allclose([r["loss"] for r in log if "loss" in r],
                               [r["loss"] for r in ref if "loss" in r], rtol=1e-4)

    np.testing.assert_allclose(_encode(run.path / "train" / "model"),
                               _encode(full.path / "train" / "model"), atol=1e-5)
    files = sorted(str(p.relative_to(run.path / "train")) for p in (run.path / "train").rglob("*"))
    assert files == sorted(str(p.relative_to(full.path / "train"))
                           for p in (full.path / "train").rglob("*"))
    assert not ck.exists()  # checkpoints go once the stage folder is in place
    assert not list(run.path.glob(".train*"))
