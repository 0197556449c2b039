"""`ticketsim serve`: a clear one-line error without an index; --help stays light."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_serve_without_index_is_a_clear_error(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "ticketsim"
    r = subprocess.run([str(exe), "serve", "--run-dir", str(tmp_path / "empty")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "stage 'index' has not run" in r.stderr and "Traceback" not in r.stderr


def test_cli_import_does_not_load_the_service_stack() -> None:
    code = ("import sys, ticketsim.cli; "
            "print(any(m in sys.modules for m in ('fastapi', 'uvicorn', 'sentence_transformers')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_empty_api_key_env_is_an_error_not_a_silent_off(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "ticketsim.cli", "serve", "--set", "serve.api_key_env=",
                        "--run-dir", str(tmp_path / "empty")], capture_output=True, text=True,
                       timeout=120, env={**os.environ, "COLUMNS": "300"})
    assert r.returncode == 2, r.stderr
    err = " ".join(r.stderr.split())
    assert "serve.api_key_env" in err and "leave the variable unset" in err and "Traceback" not in err
