"""Fixtures of the service tests: one indexed tiny run per session, a fresh copy per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from service_helpers import build_indexed, copy_run, service_config

from ticketsim.rundir import RunDir


@pytest.fixture(scope="session")
def indexed_template(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    return build_indexed(tmp_path_factory.mktemp("svc-template") / "run", tiny_model_dir)


@pytest.fixture()
def svc_run(indexed_template: Path, tmp_path: Path) -> RunDir:
    return copy_run(indexed_template, tmp_path / "run")


@pytest.fixture()
def make_client(svc_run: RunDir, tiny_model_dir: Path, tmp_path: Path) -> Iterator:
    """Factory: a TestClient over a fresh app with ``serve`` overrides; closed after the test."""
    from fastapi.testclient import TestClient

    from ticketsim.service.app import create_app

    clients: list[TestClient] = []

    def make(**serve: object) -> TestClient:
        serve.setdefault("reload_poll_seconds", 0)
        cfg = service_config(tiny_model_dir, tmp_path / "links.sqlite", **serve)
        client = TestClient(create_app(svc_run, cfg), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)
