"""A generated corpus of messy and broken exports, each with its expected outcome.

Every case runs through the CLI's console-script entry point (``ticketsim.cli.main``,
what ``ticketsim ingest`` runs), in this process: a subprocess per case cost ~5 s of
interpreter and pandas start-up each, and a handful of cases also run in a real
subprocess (:func:`test_corpus_in_a_real_process`) to hold the process-level contract.
The must-succeed cases check the ingested content and the warnings (summary and
terminal), the must-fail cases check exit code 2, one line naming file/row/field, no
traceback, and no stage folder written.
"""

from __future__ import annotations

import csv
import importlib.util
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
    warn: list[str] = field(default_factory=list)  # substrings of summary warnings (and stderr)
    run_file: bool = False  # --run-dir names an existing file


def _xlsx() -> bytes:
    import io

    buf = io.BytesIO()
    with pd.ExcelWriter(buf) as xw:
        pd.DataFrame({"x": [1]}).to_excel(xw, sheet_name="notes", index=False)
        pd.DataFrame({"id": [10, 11], "short_description": ["vpn", "mail"],
                      "description": ["down", "slow"]}).to_excel(xw, sheet_name="tickets", index=False)
    return buf.getvalue()


BIG = "x" * 1_000_000


def _gz_truncated() -> bytes:
    import gzip

    data = gzip.compress((HEAD + "".join(f"{i},vpn {i},down\n" for i in range(2000))).encode())
    return data[: len(data) // 2]


def _xlsx_bomb(uncompressed_mb: int) -> bytes:
    """A real workbook whose sheet XML is replaced by ``uncompressed_mb`` MB of rows (~1000:1)."""
    import io
    import zipfile

    small = io.BytesIO()
    pd.DataFrame({"id": [1], "short_description": ["a"], "description": ["b"]}).to_excel(
        small, index=False)
    out = io.BytesIO()
    row = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>' * 1000
    with zipfile.ZipFile(small) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(item, src.read(item))
                continue
            with dst.open(item.filename, "w", force_zip64=True) as f:
                f.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                        b'spreadsheetml/2006/main"><sheetData>')
                for _ in range(uncompressed_mb * 1_000_000 // len(row)):
                    f.write(row)
                f.write(b"</sheetData></worksheet>")
    return out.getvalue()


def _deep_json(depth: int = 100_000) -> bytes:
    return ('{"id": "1", "short_description": ' + "[" * depth + "]" * depth + "}\n").encode()


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

    def resolved(n: int) -> Callable[[pd.DataFrame, dict], None]:
        def check(df: pd.DataFrame, summary: dict) -> None:
            assert summary["links"]["resolved"] == n, summary["links"]
        return check

    four = (HEAD + "1,a,b\n2,c,d\n3,e,f\n4,g,h\n").encode()

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
             {}, True, eq("text", ["vpn. a&b"]), warn=["t.csv: 1 NUL byte(s) removed"]),
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
        Case("wrong-type", {"t.csv": (HEAD + "1,a,b\n").encode()}, {"truncate_text_at_chars": "many"},
             False, error=["data.truncate_text_at_chars"]),
        # ---- issue 18: silent changes now warn (summary.json and the terminal)
        Case("nul-bytes", {"t.csv": (HEAD + "1\x002,a,b\n3,c\x00,d\n").encode()}, {}, True,
             eq("id", ["12", "3"]), warn=["t.csv: 2 NUL byte(s) removed (first on line 2)"]),
        Case("short-rows-padded", {"t.csv": (HEAD + "1,a,b\n2,c\n3,e,f\n").encode()}, {}, True,
             eq("description", ["b", "", "f"]),
             warn=["1 row(s) have fewer fields than the header's 3", "first: row 3"]),
        Case("unparseable-dates",
             {"t.csv": b"id,short_description,description,opened\n1,a,b,2024-01-02\n2,c,d,yesterday\n"},
             {"columns": {"created": "opened"}}, True, eq("id", ["1", "2"]),
             warn=["1 'opened' value(s) are not dates", "row 3, 'yesterday'"]),
        Case("duplicate-column-name",
             {"t.csv": b"id,short_description,description,description\n1,a,b,c\n"}, {}, True,
             eq("text", ["a. b"]), warn=["column name 'description' appears more than once"]),
        Case("links-headerless", {"t.csv": four, "l.csv": b"1,4\n2,3\n"}, {"links": "l.csv"}, True,
             resolved(2), warn=["l.csv: no header row: its first line (1, 4) was read as a link"]),
        Case("links-with-header", {"t.csv": four, "l.csv": b"Issue id,Duplicate id\n1,4\n2,3\n"},
             {"links": "l.csv"}, True, resolved(2)),
        Case("links-third-column", {"t.csv": four, "l.csv": b"Issue,Dup,Note\n1,4,x\n2,3,y\n"},
             {"links": "l.csv"}, True, resolved(2), warn=["column(s) 'Note' ignored"]),
        Case("links-true-label", {"t.csv": four,
                                  "l.json": json.dumps([{"a": 1, "b": 2, "label": True}]).encode()},
             {"links": "l.json"}, True, resolved(1),
             warn=["1 label(s) given as true/false were taken as 1/0 (first: row 1)"]),
        # ---- issue 18: one clear exit 2 instead of "internal error" / "aborted"
        Case("corrupt-parquet", {"t.parquet": b"PAR1" + b"\x00garbage" * 50 + b"PAR1"}, {}, False,
             error=["t.parquet", "not a readable Parquet file"]),
        Case("xls-without-reader", {"t.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600},
             {}, False, error=["t.xls", "cannot read .xls files here"
                                if importlib.util.find_spec("python_calamine") is None else "xls"]),
        Case("json-nested-100k", {"t.jsonl": _deep_json()}, {}, False,
             error=["t.jsonl", "row 1", "nested too deeply"]),
        Case("json-array-nested-100k", {"t.json": b"[" * 100_000 + b"]" * 100_000}, {}, False,
             error=["t.json", "nested too deeply"]),
        Case("delimiter-two-chars", {"t.csv": (HEAD + "1,a,b\n").encode()}, {"delimiter": "ab"},
             False, error=["data.delimiter", "exactly one character"]),
        Case("template-unclosed-brace", {"t.csv": (HEAD + "1,a,b\n").encode()},
             {"text_template": "{short_description. {description}"}, False,
             error=["data.text_template", "not a valid template"]),
        Case("template-format-spec", {"t.csv": (HEAD + "1,a,b\n").encode()},
             {"text_template": "{short_description:>10}"}, False,
             error=["data.text_template", "format spec"]),
        Case("links-store-under-a-file", {"t.csv": (HEAD + "1,a,b\n").encode(), "blocker": b"x"},
             {"links_store": "blocker/store.sqlite"}, False,
             error=["store.sqlite", "field 'data.links_store'"]),
        Case("links-store-is-a-folder", {"t.csv": (HEAD + "1,a,b\n").encode(), "dir/x": b"x"},
             {"links_store": "dir"}, False, error=["field 'data.links_store'", "is a folder"]),
        Case("run-dir-is-a-file", {"t.csv": (HEAD + "1,a,b\n").encode()}, {}, False,
             error=["field '--run-dir'", "is a file"], run_file=True),
        Case("truncated-csv-gz", {"t.csv.gz": _gz_truncated()}, {}, False,
             error=["t.csv.gz", "not a complete gzip file"]),
        Case("xlsx-zip-bomb", {"t.xlsx": _xlsx_bomb(30)}, {"max_excel_mb": 10}, False,
             error=["t.xlsx", "unpacks to 30 MB", "limit of 10 MB (data.max_excel_mb)", "zip bomb"]),
        Case("id-longer-than-api-limit", {"t.csv": (HEAD + "1,a,b\n" + "9" * 201 + ",c,d\n").encode()},
             {}, False, error=["t.csv", "row 3", "field 'id'", "longer than 200 characters"]),
        Case("id-dot-dot", {"t.csv": (HEAD + "1,a,b\n..,c,d\n").encode()}, {}, False,
             error=["t.csv", "row 3", "field 'id'", "ticket id is '..', a path step"]),
        Case("extra-column-reserved", {"t.csv": b"id,short_description,description,score\n1,a,b,9\n"},
             {"columns": {"extra": ["score"]}}, False, error=["data.columns.extra", "'score' clashes"]),
    ]


CASES = corpus()


def _setup(tmp_path: Path, case: Case) -> list[str]:
    for name, data in case.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    tickets = next(n for n in case.files if n.startswith("t."))
    data_cfg = {"tickets": tickets, "links_store": "store.sqlite", **case.config}
    (tmp_path / "c.yaml").write_text(json.dumps({"data": data_cfg}))
    run = tmp_path / "run"
    if case.run_file:
        run.write_text("not a folder")
    return ["ingest", "-c", str(tmp_path / "c.yaml"), "--run-dir", str(run)]


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``ticketsim ARGS`` through the console-script entry point: (exit code, stdout, stderr)."""
    from ticketsim import cli

    argv = sys.argv
    sys.argv = ["ticketsim", *args]
    capsys.readouterr()
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    out = capsys.readouterr()
    return code, out.out, out.err


def _check(case: Case, tmp_path: Path, code: int, stdout: str, stderr: str) -> None:
    run = tmp_path / "run"
    if case.ok:
        assert code == 0, stderr
        df = pd.read_parquet(run / "ingest" / "tickets.parquet")
        summary = json.loads((run / "ingest" / "summary.json").read_text())
        assert case.check is not None
        case.check(df, summary)
        warned = " ".join(" ".join(summary["warnings"]).split())
        shown = " ".join(stderr.split())
        for part in case.warn:
            assert part in warned, (part, summary["warnings"])
            assert part in shown, (part, stderr)
        assert bool(case.warn) == bool(summary["warnings"]), summary["warnings"]
    else:
        assert code == 2, (code, stdout, stderr)
        err = " ".join(stderr.split())
        assert "Traceback" not in stderr and err.startswith("error:"), stderr
        assert len(stderr.strip().splitlines()) == 1 or "\n" not in stderr.strip(), stderr
        for part in case.error:
            assert part in err, (part, err)
        if run.is_dir():
            assert not (run / "ingest").exists()
            assert not list(run.glob(".ingest*"))
        assert not list(tmp_path.glob("**/*.tmp"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_corpus_through_the_cli(tmp_path: Path, case: Case,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    args = _setup(tmp_path, case)
    code, out, err = run_main(args, capsys)
    _check(case, tmp_path, code, out, err)


SUBPROCESS = ["utf8-bom", "invalid-utf8", "truncated-csv-gz", "json-nested-100k", "nul-bytes"]


@pytest.mark.parametrize("name", SUBPROCESS)
def test_corpus_in_a_real_process(tmp_path: Path, name: str) -> None:
    """The same contract from ``python -m ticketsim.cli`` (exit codes, stderr, no 'aborted')."""
    case = next(c for c in CASES if c.name == name)
    args = _setup(tmp_path, case)
    res = subprocess.run([sys.executable, "-m", "ticketsim.cli", *args], capture_output=True,
                         text=True, env=ENV, timeout=120)
    _check(case, tmp_path, res.returncode, res.stdout, res.stderr)


def test_corpus_counts() -> None:
    assert sum(c.ok for c in CASES) == 21 and sum(not c.ok for c in CASES) == 24


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
    assert set(df.id) <= {r[0].replace("\x00", "").strip() for r in rows}  # NUL bytes: removed, warned
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


# ---------------------------------------------------------------- a damaged index (ticketsim search)
@pytest.fixture(scope="module")
def indexed_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A tiny indexed run directory with its config (the tiny model), copied per case."""
    import yaml

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "index"))
    from index_helpers import index_config, make_run, tiny_tickets

    from ticketsim.index.stage import run_index

    root = tmp_path_factory.mktemp("corpus-index") / "run"
    cfg = index_config(tiny_model_dir)
    run_index(cfg, make_run(root, tiny_tickets()))
    (root / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    return root


def _damage_store(index: Path) -> None:
    (index / "tickets.sqlite").write_bytes(b"this is not a database" * 100)


def _truncate_store(index: Path) -> None:
    path = index / "tickets.sqlite"
    for extra in index.glob("tickets.sqlite-*"):  # WAL / shared memory
        extra.unlink()
    path.write_bytes(path.read_bytes()[:4096])


def _damage_ann(index: Path) -> None:
    for snap in index.glob("ann-*.usearch"):
        data = snap.read_bytes()
        snap.write_bytes(data[: len(data) // 2])


INDEX_CASES = [  # (name, damage, exit code, substrings of stderr)
    ("corrupt-tickets-sqlite", _damage_store, 2, ["tickets.sqlite", "ticket store is damaged",
                                                  "ticketsim index --force"]),
    ("truncated-tickets-sqlite", _truncate_store, 2, ["tickets.sqlite", "ticket store is damaged"]),
    ("corrupt-ann-file", _damage_ann, 0, ["warning: index:", "is unreadable",
                                          "rebuilt from the ticket store"]),
]


@pytest.mark.parametrize("name,damage,code,parts", INDEX_CASES, ids=[c[0] for c in INDEX_CASES])
def test_damaged_index_through_the_cli(indexed_run: Path, tmp_path: Path, name: str, damage,  # type: ignore[no-untyped-def]
                                       code: int, parts: list[str],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(indexed_run, run)
    damage(run / "index")
    got, out, err = run_main(["search", "--run-dir", str(run), "--json", "-k", "3", "--id", "T00"],
                             capsys)
    flat = " ".join(err.split())
    assert got == code, (got, out, err)
    assert "Traceback" not in err and "internal error" not in err
    for part in parts:
        assert part in flat, (part, err)
    if code == 0:  # the rebuilt vectors answer like the originals: T00's topic first
        assert [h["id"][:2] for h in json.loads(out)][:1] == ["T0"]


def test_search_run_dir_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "run").write_text("x")
    got, _, err = run_main(["search", "--run-dir", str(tmp_path / "run"), "vpn"], capsys)
    assert got == 2 and "the run directory is a file" in " ".join(err.split())
