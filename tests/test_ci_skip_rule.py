"""Under CI=true a skipped test that is not marked slow fails the run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent


def run_pytest(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    shutil.copy(TESTS / "tinymodel.py", tmp_path / "tinymodel.py")
    (tmp_path / "test_x.py").write_text(
        "import pytest\n\n"
        "def test_missing_dependency():\n    pytest.importorskip('no_such_module_xyz')\n\n"
        "@pytest.mark.slow\ndef test_slow_needs_data():\n    pytest.skip('data absent')\n"
    )
    env = {**os.environ, "CI": ci}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "",
         "-o", "markers=slow", str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )


def test_skip_fails_under_ci_unless_slow(tmp_path: Path) -> None:
    res = run_pytest(tmp_path, "true")
    assert res.returncode == 1, res.stdout
    assert "1 failed, 1 skipped" in res.stdout
    assert "skipped in CI without a slow marker" in res.stdout


def test_skip_is_a_skip_outside_ci(tmp_path: Path) -> None:
    res = run_pytest(tmp_path, "")
    assert res.returncode == 0, res.stdout
    assert "2 skipped" in res.stdout
