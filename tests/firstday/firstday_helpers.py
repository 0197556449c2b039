"""Helpers of the first-day tests: the real CLI in a subprocess, a cold-start config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tinydata import write_tiny_export

CLI = [sys.executable, "-m", "ticketsim.cli"]


def cli(*args: str, cwd: Path | None = None, env: dict | None = None,
        timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``ticketsim ARGS`` in a subprocess, piped (no TTY), wide and uncoloured."""
    e = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=e, cwd=cwd,
                          timeout=timeout)


def cold_config(folder: Path, model: Path, *, subcategory: bool = False) -> Path:
    """A config over the tiny export with no links; category mapped, subcategory optional."""
    tickets, _ = write_tiny_export(folder / "export")
    cols = {"category": "category", "created": "created"}
    if subcategory:
        cols["subcategory"] = "subcategory"
    tree = {"data": {"tickets": str(tickets), "links_store": "links.sqlite", "columns": cols},
            "train": {"base_model": str(model), "trainer": {"num_train_epochs": 1}, "batch_size": 4,
                      "max_seq_length": 32},
            "index": {"exact_below": 100000, "encoder": "onnx"}}
    path = folder / "desk.yaml"
    path.write_text(json.dumps(tree))
    return path

