"""Helpers: an indexed tiny run (built once per session, copied per test) and a client for it."""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "index"))

from index_helpers import index_config, make_run, tiny_tickets  # noqa: E402

from ticketsim.config import Config  # noqa: E402
from ticketsim.rundir import RunDir  # noqa: E402


def build_indexed(root: Path, model: Path) -> Path:
    """A run directory with the tiny tickets indexed by ``model``."""
    from ticketsim.index.stage import run_index

    run = make_run(root, tiny_tickets())
    run_index(index_config(model), run)
    return run.path


def write_thresholds(run: RunDir, labels: dict[str, Any], duplicate: float = 0.95,
                     related: float = -1.0) -> None:
    """An evaluate/thresholds.json for the index's model, with these label stats."""
    import json

    from ticketsim.thresholds import FILE, Thresholds

    fp = json.loads((run.path / "index" / "meta.json").read_text())["model_fingerprint"]
    (run.path / "evaluate").mkdir(exist_ok=True)
    Thresholds(model_fingerprint=fp, duplicate=duplicate, related=related, labels=labels).save(
        run.path / "evaluate" / FILE)


def copy_run(src: Path, dst: Path) -> RunDir:
    shutil.copytree(src, dst)
    return RunDir(dst)


def service_config(model: Path, links: Path, **serve: Any) -> Config:
    cfg = index_config(model)
    cfg.data.links_store = links
    for key, value in serve.items():
        setattr(cfg.serve, key, value)
    return cfg


@contextlib.contextmanager
def serving(app: Any, cfg: Config | None = None) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free loopback port in a thread; yields the base URL.

    With ``cfg``, the server is configured as ``ticketsim serve`` configures it
    (:func:`ticketsim.service.app.server_config`: protocol, keep-alive), on loopback.
    """
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if cfg is not None:
        from ticketsim.service.app import server_config

        local = cfg.model_copy(deep=True)
        local.serve.host, local.serve.port = "127.0.0.1", port
        conf = server_config(app, local, log_level="warning")
    else:
        conf = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(conf)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
