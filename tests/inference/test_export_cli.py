"""`ticketsim export-onnx` through the console entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from ticketsim.cli import main; sys.argv = ['ticketsim', *sys.argv[1:]]; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=300)


def test_export_onnx_command_writes_both_graphs(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "onnx"
    res = _cli("export-onnx", str(tiny_model_dir), str(out), "--int8")
    assert res.returncode == 0, res.stderr
    meta = json.loads((out / "ticketsim_onnx.json").read_text())
    assert set(meta["files"]) == {"fp32", "int8"} and (out / "model_int8.onnx").is_file()
    assert "int8" in res.stdout


def test_export_onnx_missing_model_is_one_line_error(tmp_path: Path) -> None:
    res = _cli("export-onnx", str(tmp_path / "nope" / "model"), str(tmp_path / "out"))
    assert res.returncode == 2
    assert "does not exist" in res.stderr and "Traceback" not in res.stderr
