"""`ticketsim train` through the command line: the renderer, --resume errors, one-line failures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from training_helpers import make_run

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ticketsim.cli", *args], capture_output=True,
                          text=True, env=ENV)


def test_train_and_resume_from_the_cli(tmp_path: Path, tiny_model_dir: Path) -> None:
    run = make_run(tmp_path / "run", "pair")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"train": {
        "base_model": str(tiny_model_dir), "batch_size": 8, "max_seq_length": 32,
        "trainer": {"max_steps": 2, "eval_strategy": "no"}}}))
    out = cli("train", "-c", str(cfg), "--run-dir", str(run.path), "--resume")
    assert out.returncode == 2, out.stderr
    assert "no checkpoint to resume from" in out.stderr and len(out.stderr.strip().splitlines()) <= 2
    out = cli("train", "-c", str(cfg), "--run-dir", str(run.path))
    assert out.returncode == 0, out.stderr
    assert "train: mnrl on" in out.stdout and "steps / epochs" in out.stdout
    assert (run.path / "train" / "model" / "modules.json").is_file()
    out = cli("train", "-c", str(cfg), "--run-dir", str(run.path), "--set", "train.loss=triplet")
    assert out.returncode == 2
    assert "needs (anchor, positive, negative) triplets" in out.stderr
