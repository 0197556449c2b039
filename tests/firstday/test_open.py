"""``ticketsim.open(run_dir)`` (issue 17, point 10): the run's searcher with its own config."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ticketsim
from ticketsim.errors import TicketsimError


def test_open_returns_the_searcher_with_the_runs_own_config(cold_run: dict, tmp_path) -> None:
    s = ticketsim.open(cold_run["run"])
    try:
        assert s.cfg.index.encoder == "onnx"  # from run/config.yaml, not the defaults
        assert s.cfg.data.links_store == (cold_run["folder"] / "links.sqlite").resolve()
        hits = s.search("printer paper jam", k=3)
        assert len(hits) == 3 and hits[0].to_dict()["category"] == "Hardware"
    finally:
        s.close()
    s = ticketsim.open(cold_run["run"], search__k=2)
    try:
        assert s.k == 2 and len(s.search("vpn drops")) == 2
    finally:
        s.close()
    with pytest.raises(TicketsimError, match="stage 'index' has not run"):
        ticketsim.open(tmp_path)


def test_importing_ticketsim_stays_light() -> None:
    code = ("import sys, ticketsim; print(sorted(m for m in ('numpy', 'pandas', 'torch', "
            "'pydantic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
