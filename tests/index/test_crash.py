"""Killing the index writer (SIGKILL, a real subprocess) mid-update leaves an index that loads and answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from index_helpers import index_config, make_run

from ticketsim.index.search import Searcher
from ticketsim.index.stage import run_index

WRITER = textwrap.dedent("""
    import sys
    from ticketsim.config import config_from_dict
    from ticketsim.index.search import Searcher
    run, model, backend = sys.argv[1], sys.argv[2], sys.argv[3]
    cfg = config_from_dict({"train": {"base_model": model},
                            "index": {"save_every": 3, "backend": backend}})
    s = Searcher(run, cfg)
    i = 0
    while True:
        tid = f"W{i}"
        s.upsert([{"id": tid, "short_description": f"writer ticket {i} printer", "description": "x"}])
        if i % 4 == 3:
            s.delete([f"W{i - 1}"])
            print(f"del W{i - 1}", flush=True)
        print(f"ack {tid}", flush=True)
        i += 1
""")


@pytest.mark.parametrize("backend", ["usearch", "qdrant"])
def test_sigkill_mid_update_leaves_loadable_index(backend: str, tmp_path: Path,
                                                  tiny_model_dir: Path) -> None:
    if backend == "qdrant":
        pytest.importorskip("qdrant_client")
    run = make_run(tmp_path / "run")
    cfg = index_config(tiny_model_dir, backend=backend, save_every=3)
    run_index(cfg, run)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    proc = subprocess.Popen([sys.executable, str(script), str(run.path), str(tiny_model_dir), backend],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": ""})
    acked: list[str] = []
    deleted: set[str] = set()
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    while len(acked) < 14 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        kind, tid = line.split()
        (acked.append(tid) if kind == "ack" else deleted.add(tid))
    os.kill(proc.pid, signal.SIGKILL)  # mid-update: the writer loops on upserts and snapshots
    proc.wait()
    assert len(acked) >= 14, "writer did not get going"
    s = Searcher(run, cfg)
    live = {t for t in acked if t not in deleted}
    for tid in live:
        assert s.get_ticket(tid) is not None, tid
        hits = s.search(ticket_id=tid, k=60)
        assert hits, tid
    assert all(s.get_ticket(t) is None for t in deleted)
    assert s.search("printer jam", k=3)
    n = len(s.index)
    assert n >= 24 + len(live)  # one more add may have committed between its ack and the kill
    assert len(s.index.backend) == n  # the vector side was replayed up to the store
    s.close()
