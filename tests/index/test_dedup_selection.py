"""Which tickets dedup groups (the library's policy, not the CLI's): the open backlog by
default, read from the statuses the desk actually uses."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from index_helpers import index_config, make_run, tiny_tickets
from typer.testing import CliRunner

from ticketsim.cli import app
from ticketsim.errors import TicketsimError
from ticketsim.index.dedup import backlog_statuses, dedup_selection
from ticketsim.index.search import Searcher
from ticketsim.index.stage import run_index


def test_backlog_is_every_status_that_is_not_closed() -> None:
    assert backlog_statuses(["Closed", "In Progress", "New", "Resolved"]) == ["In Progress", "New"]
    assert backlog_statuses(["ASSIGNED", "NEW", "RESOLVED", "UNCONFIRMED", "VERIFIED"]) == [
        "ASSIGNED", "NEW", "UNCONFIRMED"]  # Bugzilla
    assert backlog_statuses(["closed", "open"]) == ["open"]
    assert backlog_statuses([]) is None  # no status column: every ticket is open
    assert backlog_statuses(["Closed", "Done"]) == []


def test_dedup_selection(tmp_path: Path, tiny_model_dir: Path) -> None:
    run = make_run(tmp_path / "run")  # statuses open and closed
    run_index(index_config(tiny_model_dir), run)
    s = Searcher(run, index_config(tiny_model_dir))
    try:
        assert dedup_selection(s).status == ["open"]
        assert dedup_selection(s, every_status=True).status is None
        assert dedup_selection(s, status=["Closed"], every_status=True).status == ["Closed"]
        f = dedup_selection(s, category=["Network"], created_from="2024-01-05")
        assert f.category == ["Network"] and f.status == ["open"] and f.created_from is not None
        with pytest.raises(TicketsimError, match="no ticket has status 'opne'; status values: "
                                                 "closed, open"):
            dedup_selection(s, status=["opne"])
    finally:
        s.close()
    closed = SimpleNamespace(index=SimpleNamespace(store=SimpleNamespace(
        values=lambda column: ["Closed", "Resolved"])))
    with pytest.raises(TicketsimError, match="open backlog is empty"):
        dedup_selection(closed)


def test_dedup_default_groups_the_desks_own_open_statuses(tmp_path: Path,
                                                          tiny_model_dir: Path) -> None:
    tickets = tiny_tickets()  # the demo's statuses: no ticket is literally 'open'
    tickets["status"] = ["New" if i % 4 == 0 else "In Progress" if i % 4 == 1 else "Resolved"
                         for i in range(len(tickets))]
    run = make_run(tmp_path / "run", tickets)
    base = ["--run-dir", str(run.path), "--set", f"train.base_model={tiny_model_dir}"]
    runner = CliRunner()
    assert runner.invoke(app, ["index", *base]).exit_code == 0
    res = runner.invoke(app, ["dedup", "--threshold", "0.999", "--out", str(tmp_path / "d"), *base])
    assert res.exit_code == 0, res.output
    open_ = len(tickets) // 2
    assert f"among {open_} tickets (status In Progress, New)" in res.output
