"""CLI edges (issue 17, point 6): usage errors, --version, the API's validation rules,
case-insensitive filters that name the existing values, a compact narrow layout."""

from __future__ import annotations

import json

import pytest
from firstday_helpers import cli


@pytest.mark.parametrize(("args", "expect"), [
    (["run"], "Missing argument"),
    (["search", "--bogus", "x"], "No such option: --bogus"),
    (["search", "-k", "x", "vpn"], "'--k'"),
    (["label", "nothing"], "No such command 'nothing'"),
])
def test_usage_errors_are_one_line_and_exit_2(args: list[str], expect: str) -> None:
    res = cli(*args)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], res.stderr
    assert "internal error" not in res.stderr and "--help" in lines[0]


def test_version() -> None:
    from ticketsim import __version__

    res = cli("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"ticketsim {__version__}"


@pytest.mark.parametrize(("args", "field"), [
    (["--since", "2025-13-01", "vpn"], "--since"),
    (["--until", "yesterday", "vpn"], "--until"),
    (["-k", "0", "vpn"], "--k"),
    (["-k", "-5", "vpn"], "--k"),
    (["-k", "101", "vpn"], "--k"),  # serve.max_k, as POST /search
    ([""], "QUERY"),
])
def test_search_validates_like_the_api(cold_run: dict, args: list[str], field: str) -> None:
    res = cli("search", "--run-dir", str(cold_run["run"]), *args)
    assert res.returncode == 2, res.stdout[-500:] + res.stderr
    assert f"field '{field}'" in res.stderr and "internal error" not in res.stderr


def test_filters_ignore_case_and_name_the_values_that_exist(cold_run: dict) -> None:
    run = str(cold_run["run"])
    res = cli("search", "--run-dir", run, "--json", "-k", "3", "--category", "network", "vpn")
    assert res.returncode == 0, res.stderr
    hits = json.loads(res.stdout)
    assert len(hits) == 3 and {h["category"] for h in hits} == {"Network"}
    res = cli("search", "--run-dir", run, "--category", "Netwrk", "vpn")
    assert res.returncode == 2
    assert ("no ticket has category 'Netwrk'; category values: Access, Email, Hardware, "
            "Network, Software") in res.stderr


def test_narrow_terminals_get_a_compact_layout(cold_run: dict) -> None:
    res = cli("search", "--run-dir", str(cold_run["run"]), "-k", "4", "printer paper jam",
              env={"COLUMNS": "60"})
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert all(len(ln) <= 60 for ln in lines), lines
    assert not any(c in res.stdout for c in "┃│┏")  # no table borders
    heads = [ln for ln in lines if ln.lstrip()[:2].rstrip(".").isdigit()]
    assert len(heads) == 4 and all(" T0" in h for h in heads)
