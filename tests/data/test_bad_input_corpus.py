"""A generated corpus of messy and broken exports, each with its expected outcome.

Every case runs through the real CLI (``ticketsim ingest``) in a subprocess: the
must-succeed cases check the ingested content, the must-fail cases check exit
code 2, one line naming file/row/field, no traceback, and no stage folder written.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketsim.config import config_from_dict
from ticketsim.data.ingest import build_tickets
from ticketsim.data.store import LinksStore
from ticketsim.errors import TicketsimError

ENV = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1"}
HEAD = "id,short_description,description\n"


@dataclass
class Case:
    name: str
    files: dict[str, bytes]
    config: dict
    ok: bool
    check: Callable[[pd.DataFrame, dict], None] | None = None
    error: list[str] = field(default_factory=list)  # substrings of the one-line error


def _xlsx() -> bytes:
    import io

    buf = io.BytesIO()
    with pd.ExcelWriter(buf) as xw:
        pd.DataFrame({"x": [1]}).to_excel(xw, sheet_name="notes", index=False)
        pd.DataFrame({"id": [10, 11], "short_description": ["vpn", "mail"],
                      "description": ["down", "slow"]}).to_excel(xw, sheet_name="tickets", index=False)
    return buf.getvalue()


BIG = "x" * 1_000_000


def corpus() -> list[Case]:
    def eq(col: str, values: list) -> Callable[[pd.DataFrame, dict], None]:
        def check(df: pd.DataFrame, summary: dict) -> None:
            assert df[col].tolist() == values, df[col].tolist()
        return check

    def big(df: pd.DataFrame, summary: dict) -> None:
        assert len(df.description[0]) == 1_000_000 and len(df.text[0]) <= 4000

    def links_counted(df: pd.DataFrame, summary: dict) -> None:
        lk = summary["links"]
        assert (lk["unknown_ticket_dropped"], lk["self_links_dropped"], lk["resolved"]) == (1, 1, 1)

    def trimmed(df: pd.DataFrame, summary: dict) -> None:
        assert df.id.tolist() == ["7", "8"] and summary["ids_trimmed"] == 2

    return [
        # ---- must succeed
        Case("utf8-bom", {"t.csv": ("\ufeff" + HEAD + "1,Café,ok\n").encode()}, {}, True,
             eq("short_description", ["Café"])),
        Case("cp1252", {"t.csv": (HEAD + "1,Café – ‘quoted’,ok\n").encode("cp1252")},
             {"encoding": "cp1252"}, True, eq("short_description", ["Café – ‘quoted’"])),
        Case("latin-1", {"t.csv": (HEAD + "1,Größe,ok\n").encode("latin-1")},
             {"encoding": "latin-1"}, True, eq("short_description", ["Größe"])),
        Case("semicolon", {"t.csv": b"id;short_description;description\n1;a, b;c\n"}, {}, True,
             eq("short_description", ["a, b"])),
        Case("tab", {"t.tsv": b"id\tshort_description\tdescription\n1\ta\tb\n"}, {}, True,
             eq("text", ["a. b"])),
        Case("newlines-quotes", {"t.csv": (HEAD + '1,"say ""hi""","a\nb"\n').encode()}, {}, True,
             eq("description", ["a\nb"])),
        Case("extra-columns", {"t.csv": b"id,zz,short_description,description,yy\n1,q,a,b,r\n"}, {},
             True, eq("text", ["a. b"])),
        Case("numeric-ids", {"t.csv": (HEAD + "007,a,b\n1e3,c,d\n4711.0,e,f\n").encode()}, {}, True,
             eq("id", ["007", "1e3", "4711.0"])),
        Case("id-spaces", {"t.csv": (HEAD + " 7 ,a,b\n8  ,c,d\n").encode()}, {}, True, trimmed),
        Case("html-control", {"t.csv": (HEAD + '1,<b>vpn</b>\x07,"<p>a&amp;b</p>\x00"\n').encode()},
             {}, True, eq("text", ["vpn. a&b"])),
        Case("1mb-description", {"t.csv": (HEAD + f"1,a,{BIG}\n").encode()}, {}, True, big),
        Case("excel-sheets", {"t.xlsx": _xlsx()}, {"sheet": "tickets"}, True, eq("id", ["10", "11"])),
        Case("links-unknown-and-self",
             {"t.csv": (HEAD + "1,a,b\n2,c,d\n").encode(),
              "l.json": json.dumps([{"a": 1, "b": 2}, {"a": 1, "b": 99}, {"a": 2, "b": 2}]).encode()},
             {"links": "l.json"}, True, links_counted),
        # ---- must fail clearly
        Case("invalid-utf8", {"t.csv": HEAD.encode() + b"1,caf\xe9,b\n"}, {}, False,
             error=["t.csv", "row 2", "not valid utf-8", "data.encoding"]),
        Case("missing-column", {"t.csv": b"id,title\n1,a\n"}, {}, False,
             error=["t.csv", "field 'data.columns.short_description'", "column 'short_description'"]),
        Case("empty-file", {"t.csv": b""}, {}, False, error=["t.csv", "empty"]),
        Case("all-empty-text", {"t.csv": (HEAD + "1,,\n2,<p></p>,  \n").encode()}, {}, False,
             error=["t.csv", "empty text after cleaning"]),
        Case("duplicate-ids", {"t.csv": (HEAD + "1,a,b\n2,c,d\n1,e,f\n").encode()}, {}, False,
             error=["t.csv", "row 4", "field 'id'", "duplicate id '1'"]),
        Case("contradictory-labels",
             {"t.csv": (HEAD + "1,a,b\n2,c,d\n").encode(),
              "l.json": json.dumps([{"a": 1, "b": 2}, {"a": 2, "b": 1, "label": 0}]).encode()},
             {"links": "l.json"}, False, error=["l.json", "row 2", "field 'label'", "contradictory"]),
        Case("label-out-of-range",
             {"t.csv": (HEAD + "1,a,b\n2,c,d\n").encode(),
              "l.json": json.dumps([{"a": 1, "b": 2, "label": 5}]).encode()},
             {"links": "l.json"}, False, error=["l.json", "row 1", "field 'label'"]),
        Case("unknown-config-key", {"t.csv": (HEAD + "1,a,b\n").encode()}, {"colums": {}}, False,
             error=["data.colums: unknown key"]),
        Case("wrong-type", {"t.csv": (HEAD + "1,a,b\n").encode()}, {"max_text_chars": "many"},
             False, error=["data.max_text_chars"]),
    ]


CASES = corpus()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_corpus_through_the_cli(tmp_path: Path, case: Case) -> None:
    for name, data in case.files.items():
        (tmp_path / name).write_bytes(data)
    tickets = next(n for n in case.files if n.startswith("t."))
    data_cfg = {"tickets": tickets, "links_store": "store.sqlite", **case.config}
    (tmp_path / "c.yaml").write_text(json.dumps({"data": data_cfg}))
    run = tmp_path / "run"
    res = subprocess.run(
        [sys.executable, "-m", "ticketsim.cli", "ingest", "-c", str(tmp_path / "c.yaml"),
         "--run-dir", str(run)], capture_output=True, text=True, env=ENV, timeout=120)
    if case.ok:
        assert res.returncode == 0, res.stderr
        df = pd.read_parquet(run / "ingest" / "tickets.parquet")
        summary = json.loads((run / "ingest" / "summary.json").read_text())
        assert case.check is not None
        case.check(df, summary)
    else:
        assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
        err = " ".join(res.stderr.split())
        assert "Traceback" not in res.stderr and err.startswith("error:"), res.stderr
        for part in case.error:
            assert part in err, (part, err)
        assert not (run / "ingest").exists()
        assert not list(run.glob(".ingest*")) if run.exists() else True


def test_corpus_counts() -> None:
    assert sum(c.ok for c in CASES) == 13 and sum(not c.ok for c in CASES) == 9


# ---------------------------------------------------------------- property tests
cell = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(cell, cell, cell), min_size=0, max_size=8))
def test_ingest_never_crashes_on_arbitrary_cells(tmp_path: Path, rows: list[tuple[str, str, str]]) -> None:
    """Any CSV content either ingests or fails with a TicketsimError; ids stay exact strings."""
    p = tmp_path / "t.csv"
    # QUOTE_ALL: pandas leaves a bare "\r" unquoted otherwise, which no CSV reader can tell apart
    # from a line break.
    pd.DataFrame(rows, columns=["id", "short_description", "description"]).to_csv(
        p, index=False, quoting=csv.QUOTE_ALL)
    cfg = config_from_dict({"data": {"tickets": str(p), "links_store": str(tmp_path / "s")}})
    try:
        df, counts = build_tickets(cfg.data)
    except TicketsimError:
        return
    assert counts["rows_read"] == len(rows)
    assert set(df.id) <= {r[0].strip() for r in rows}
    assert df.id.is_unique and (df.id != "").all()
    assert (df.text != "").all()


pairs = st.tuples(st.sampled_from("abcde"), st.sampled_from("abcde"), st.integers(0, 1)).filter(
    lambda t: t[0] != t[1])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answers=st.lists(pairs, max_size=15))
def test_links_store_keeps_every_answer_and_snapshot_is_the_latest(
    tmp_path_factory: pytest.TempPathFactory, answers: list[tuple[str, str, int]]
) -> None:
    store = LinksStore(tmp_path_factory.mktemp("store") / "s.sqlite")
    expected: dict[tuple[str, str], int] = {}
    written = 0
    for a, b, label in answers:
        key = (min(a, b), max(a, b))
        res = store.add([(a, b, label, None, "duplicate")], source="p")
        written += res.added
        assert res.added == (0 if expected.get(key) == label else 1)
        expected[key] = label
    assert len(store.history()) == written
    snap = store.snapshot()
    assert {(a, b): int(lab) for a, b, lab in zip(snap.a, snap.b, snap.label, strict=True)} == expected
