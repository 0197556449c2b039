"""Ingest: readers, column mapping, cleaning, links, validation errors, rerun skipping."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ticketsim.config import config_from_dict
from ticketsim.data.ingest import build_tickets, ingest, load_links, load_tickets
from ticketsim.data.store import LinksStore
from ticketsim.errors import ConfigError, TicketsimError
from ticketsim.rundir import RunDir

HEADER = "id,short_description,description,category,subcategory,created,resolution\n"
ROWS = [
    "1001,VPN drops,VPN disconnects every 5 minutes from home,Network,VPN,2024-01-02,reinstalled client",
    "1002,Outlook password,Outlook keeps asking for my password,Email,Outlook,2024-01-03,reset profile",
    "1003,VPN disconnects,my vpn keeps dropping when at home,Network,VPN,2024-01-04,new profile",
    "1004,Printer jam,printer on floor 2 jams,Hardware,Printer,2024-01-05,cleared",
]


def write_csv(path: Path, rows: list[str] | None = None, header: str = HEADER,
              encoding: str = "utf-8") -> Path:
    path.write_bytes((header + "\n".join(rows or ROWS) + "\n").encode(encoding))
    return path


def make_cfg(tmp_path: Path, tickets: Path, links: Path | None = None, **data: object):
    tree = {
        "data": {
            "tickets": str(tickets),
            "links": str(links) if links else None,
            "links_store": str(tmp_path / "store.sqlite"),
            "columns": {"category": "category", "subcategory": "subcategory", "created": "created",
                        "extra": ["resolution"]},
            **data,
        }
    }
    return config_from_dict(tree)


def write_links(path: Path, links: list[dict]) -> Path:
    path.write_text(json.dumps(links))
    return path


# ------------------------------------------------------------------ happy path
def test_ingest_writes_tickets_links_and_summary(tmp_path: Path) -> None:
    tickets = write_csv(tmp_path / "t.csv")
    links = write_links(tmp_path / "l.json", [
        {"a": "1001", "b": "1003"}, {"a": "1001", "b": "9999"}, {"a": "1002", "b": "1002"},
        {"a": "1002", "b": "1004", "label": 0, "kind": "related"},
    ])
    cfg = make_cfg(tmp_path, tickets, links)
    run = RunDir(tmp_path / "run")
    res = ingest(cfg.data, run)
    assert not res.skipped
    df = load_tickets(run)
    assert df["id"].tolist() == ["1001", "1002", "1003", "1004"]
    assert df.loc[0, "text"] == "VPN drops. VPN disconnects every 5 minutes from home"
    assert df.loc[0, "resolution"] == "reinstalled client"
    assert str(df.loc[0, "created"].date()) == "2024-01-02"
    snap = load_links(run)
    assert sorted(zip(snap.a, snap.b, snap.label, strict=True)) == [("1001", "1003", 1),
                                                                   ("1002", "1004", 0)]
    s = res.summary
    assert s["rows_read"] == 4 and s["rows_kept"] == 4
    assert s["links"]["unknown_ticket_dropped"] == 1
    assert s["links"]["self_links_dropped"] == 1
    assert s["links"]["resolved"] == 2
    assert s["categories"] == {"Network": 2, "Email": 1, "Hardware": 1}
    assert json.loads((run.path / "ingest" / "summary.json").read_text())["rows_kept"] == 4


def test_rerun_is_skipped_until_an_input_changes(tmp_path: Path) -> None:
    tickets = write_csv(tmp_path / "t.csv")
    cfg = make_cfg(tmp_path, tickets)
    run = RunDir(tmp_path / "run")
    assert not ingest(cfg.data, run).skipped
    assert ingest(cfg.data, run).skipped
    assert not ingest(cfg.data, run, force=True).skipped
    write_csv(tickets, ROWS[:3])
    res = ingest(cfg.data, run)
    assert not res.skipped and res.summary["rows_kept"] == 3
    assert ingest(cfg.data, run).skipped
    # a new label in the store (a person answered) makes the next run pick it up
    LinksStore(cfg.data.links_store).add([("1001", "1002", 0, None, "duplicate")], source="test")
    res = ingest(cfg.data, run)
    assert not res.skipped and len(load_links(run)) == 1


def test_store_is_never_wiped_and_reimport_is_a_noop(tmp_path: Path) -> None:
    tickets = write_csv(tmp_path / "t.csv")
    links = write_links(tmp_path / "l.json", [{"a": "1001", "b": "1003"}])
    cfg = make_cfg(tmp_path, tickets, links)
    store = LinksStore(cfg.data.links_store)
    store.add([("1002", "1004", 1, None, "related")], source="label-session", who="ana")
    ingest(cfg.data, RunDir(tmp_path / "run"))
    ingest(cfg.data, RunDir(tmp_path / "run2"))
    hist = store.history()
    assert len(hist) == 2
    assert set(hist.source) == {"label-session", "import:l.json"}


def test_store_reports_conflicts_instead_of_overwriting(tmp_path: Path) -> None:
    store = LinksStore(tmp_path / "s.sqlite")
    store.add([("b", "a", 1, None, "duplicate")], source="import")
    res = store.add([("a", "b", 0, None, "duplicate")], source="web", who="bo")
    assert res.conflicts == [("a", "b", 1, 0)]
    assert len(store.history()) == 2
    assert store.snapshot().label.tolist() == [0]
    assert len(store.conflicts()) == 2


@pytest.mark.config_keys(
    "data.tickets", "data.links", "data.links_store", "data.columns.id",
    "data.columns.short_description", "data.columns.description", "data.columns.category",
    "data.columns.subcategory", "data.columns.created", "data.columns.extra",
)
def test_column_mapping_reaches_the_ticket_table(tmp_path: Path) -> None:
    tickets = tmp_path / "export.csv"
    tickets.write_text("Number,Title,Body,Cat,Sub,Opened,Notes\n"
                       "INC1,Title one,Body one,A,a1,2024-02-01,fixed it\n"
                       "INC2,Title two,Body two,B,b1,2024-02-03,replaced\n")
    links = write_links(tmp_path / "l.json", [{"a": "INC1", "b": "INC2", "kind": "related"}])
    cfg = config_from_dict({"data": {
        "tickets": str(tickets), "links": str(links), "links_store": str(tmp_path / "x.sqlite"),
        "columns": {"id": "Number", "short_description": "Title", "description": "Body",
                    "category": "Cat", "subcategory": "Sub", "created": "Opened",
                    "extra": ["Notes"]}}})
    run = RunDir(tmp_path / "run")
    ingest(cfg.data, run)
    df = load_tickets(run)
    assert df.id.tolist() == ["INC1", "INC2"]
    assert df.short_description.tolist() == ["Title one", "Title two"]
    assert df.description.tolist() == ["Body one", "Body two"]
    assert df.category.tolist() == ["A", "B"] and df.subcategory.tolist() == ["a1", "b1"]
    assert str(df.created[1].date()) == "2024-02-03"
    assert df.Notes.tolist() == ["fixed it", "replaced"]
    assert (tmp_path / "x.sqlite").is_file()
    assert load_links(run).kind.tolist() == ["related"]


def test_no_id_column_uses_row_numbers(tmp_path: Path) -> None:
    tickets = tmp_path / "t.csv"
    tickets.write_text("title,body\nvpn down,cannot connect\nprinter,jam\n")
    cfg = config_from_dict({"data": {"tickets": str(tickets), "links_store": str(tmp_path / "s"),
                                     "columns": {"id": None, "short_description": "title",
                                                 "description": "body"}}})
    df, _ = build_tickets(cfg.data)
    assert df.id.tolist() == ["2", "3"]


@pytest.mark.config_keys("data.text_template", "data.truncate_text_at_chars")
def test_text_template_and_max_chars_shape_the_embedded_text(tmp_path: Path) -> None:
    tickets = write_csv(tmp_path / "t.csv")
    cfg = make_cfg(tmp_path, tickets, text_template="{short_description} | {resolution}",
                   truncate_text_at_chars=12)
    df, _ = build_tickets(cfg.data)
    assert df.text[0] == "VPN drops | "
    assert all(len(t) <= 12 for t in df.text)
    assert df.description[0] == "VPN disconnects every 5 minutes from home"  # stored whole
    cfg2 = make_cfg(tmp_path, tickets, text_template="{short_description} | {resolution}")
    df2, _ = build_tickets(cfg2.data)
    assert df2.text[0] == "VPN drops | reinstalled client"


def test_category_stays_out_of_the_default_text(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, write_csv(tmp_path / "t.csv"))
    df, _ = build_tickets(cfg.data)
    assert not any("Network" in t for t in df.text)


@pytest.mark.config_keys("data.format", "data.delimiter")
def test_format_and_delimiter_options(tmp_path: Path) -> None:
    p = tmp_path / "export.dat"
    p.write_text(HEADER.replace(",", ";") + "\n".join(r.replace(",", ";") for r in ROWS))
    with pytest.raises(TicketsimError, match="data.format"):
        build_tickets(make_cfg(tmp_path, p).data)
    df, _ = build_tickets(make_cfg(tmp_path, p, format="csv").data)  # sniffed ';'
    assert len(df) == 4 and df.category[0] == "Network"
    # an explicit delimiter wins over sniffing: ',' makes the header one unknown column
    with pytest.raises(TicketsimError, match="not in the file"):
        build_tickets(make_cfg(tmp_path, p, format="csv", delimiter=",").data)


def test_tab_delimited_embedded_newlines_and_quotes(tmp_path: Path) -> None:
    p = tmp_path / "t.tsv"
    p.write_text('id\tshort_description\tdescription\n7\t"He said ""hi"""\t"line one\nline two"\n')
    cfg = config_from_dict({"data": {"tickets": str(p), "links_store": str(tmp_path / "s")}})
    df, _ = build_tickets(cfg.data)
    assert df.short_description[0] == 'He said "hi"'
    assert df.description[0] == "line one\nline two"


@pytest.mark.config_keys("data.encoding")
def test_encoding_option_reads_cp1252(tmp_path: Path) -> None:
    p = write_csv(tmp_path / "t.csv", ["1,Café crashes,Résumé upload fails,A,a,2024-01-01,ok"],
                  encoding="cp1252")
    with pytest.raises(TicketsimError, match=r"row 2.*not valid utf-8-sig.*data.encoding"):
        build_tickets(make_cfg(tmp_path, p).data)
    df, _ = build_tickets(make_cfg(tmp_path, p, encoding="cp1252").data)
    assert df.short_description[0] == "Café crashes"


def test_utf8_bom_and_numeric_ids_kept_exactly(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_bytes("\ufeffid,short_description\n00123,a\n4711.0,b\n  42 ,c\n".encode())
    cfg = config_from_dict({"data": {"tickets": str(p), "links_store": str(tmp_path / "s"),
                                     "columns": {"description": None}}})
    df, counts = build_tickets(cfg.data)
    assert df.id.tolist() == ["00123", "4711.0", "42"]
    assert counts["ids_trimmed"] == 1


@pytest.mark.config_keys("data.sheet")
def test_excel_sheet_option(tmp_path: Path) -> None:
    p = tmp_path / "t.xlsx"
    with pd.ExcelWriter(p) as xw:
        pd.DataFrame({"id": [1], "short_description": ["first sheet"]}).to_excel(
            xw, sheet_name="old", index=False)
        pd.DataFrame({"id": [2, 3], "short_description": ["vpn", "mail"]}).to_excel(
            xw, sheet_name="tickets", index=False)
    base = {"tickets": str(p), "links_store": str(tmp_path / "s"), "columns": {"description": None}}
    df, _ = build_tickets(config_from_dict({"data": base}).data)
    assert df.id.tolist() == ["1"]
    df, _ = build_tickets(config_from_dict({"data": {**base, "sheet": "tickets"}}).data)
    assert df.id.tolist() == ["2", "3"]


def test_jsonl_and_parquet_readers(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    p.write_text('{"id": 5, "short_description": "vpn", "description": "down"}\n'
                 '{"id": "006", "short_description": "mail", "description": "slow"}\n')
    cfg = config_from_dict({"data": {"tickets": str(p), "links_store": str(tmp_path / "s")}})
    df, _ = build_tickets(cfg.data)
    assert df.id.tolist() == ["5", "006"] and df.text[1] == "mail. slow"
    q = tmp_path / "t.parquet"
    pd.DataFrame({"id": ["a1", "a2"], "short_description": ["x y", "z"],
                  "description": ["", "w"]}).to_parquet(q)
    cfg = config_from_dict({"data": {"tickets": str(q), "links_store": str(tmp_path / "s")}})
    df, _ = build_tickets(cfg.data)
    assert df.text.tolist() == ["x y", "z. w"]


def test_two_column_duplicate_csv_links(tmp_path: Path) -> None:
    tickets = write_csv(tmp_path / "t.csv")
    links = tmp_path / "dups.csv"
    links.write_text("Issue id,Duplicate id\n1001,1003\n1003,1001\n1002,555\n")
    res = ingest(make_cfg(tmp_path, tickets, links).data, RunDir(tmp_path / "run"))
    lk = res.summary["links"]
    assert (lk["resolved"], lk["unknown_ticket_dropped"], lk["repeated_pair_dropped"]) == (1, 1, 1)


@pytest.mark.config_keys("data.strict_links")
def test_strict_links_makes_unknown_ids_an_error(tmp_path: Path) -> None:
    tickets = write_csv(tmp_path / "t.csv")
    links = write_links(tmp_path / "l.json", [{"a": "1001", "b": "1003"}, {"a": "1001", "b": "77"}])
    with pytest.raises(TicketsimError, match=r"l.json, row 2, field 'b': link refers to unknown ticket"):
        ingest(make_cfg(tmp_path, tickets, links, strict_links=True).data, RunDir(tmp_path / "r"))


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"", "empty"),
        (HEADER.encode(), "no rows"),
        (b"ticket,title\n1,a\n", r"column 'id' \(mapped to id\) is not in the file"),
        (b"id,short_description,description\n1,a,b\n2,c,d\n1,e,f\n", r"row 4.*duplicate id '1'"),
        (b"id,short_description,description\n1,<p> </p>,\n2,,\n", "empty text after cleaning"),
        (b"id,short_description\n1,caf\xe9\n", r"row 2.*not valid utf-8"),
    ],
    ids=["empty", "header-only", "missing-column", "duplicate-id", "all-empty", "bad-utf8"],
)
def test_bad_exports_fail_with_file_row_field(tmp_path: Path, content: bytes, pattern: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    cfg = config_from_dict({"data": {"tickets": str(p), "links_store": str(tmp_path / "s")}})
    run = RunDir(tmp_path / "run")
    with pytest.raises(TicketsimError, match=pattern) as info:
        ingest(cfg.data, run)
    assert "bad.csv" in str(info.value)
    assert not (run.path / "ingest").exists()
    assert not list(run.path.glob(".ingest*")) if run.path.exists() else True


@pytest.mark.parametrize(
    ("links", "pattern"),
    [
        ([{"a": "1001", "b": "1003", "label": 2}], r"row 1, field 'label'.*0 or 1"),
        ([{"a": "1001", "b": "1003", "score": 1.5}], r"field 'score'.*between 0 and 1"),
        ([{"a": "1001", "b": "1003", "kind": "dup"}], r"field 'kind'"),
        ([{"a": "1001"}], r"field 'b'.*missing ticket id"),
        ([{"a": "1001", "b": "1003"}, {"a": "1003", "b": "1001", "label": 0}],
         r"row 2.*contradictory labels"),
    ],
    ids=["label", "score", "kind", "missing-b", "contradiction"],
)
def test_bad_links_fail_with_row_and_field(tmp_path: Path, links: list, pattern: str) -> None:
    cfg = make_cfg(tmp_path, write_csv(tmp_path / "t.csv"), write_links(tmp_path / "l.json", links))
    run = RunDir(tmp_path / "run")
    with pytest.raises(TicketsimError, match=pattern):
        ingest(cfg.data, run)
    assert not (run.path / "ingest").exists()


def test_failed_rerun_keeps_previous_artifacts(tmp_path: Path) -> None:
    tickets = write_csv(tmp_path / "t.csv")
    cfg = make_cfg(tmp_path, tickets)
    run = RunDir(tmp_path / "run")
    ingest(cfg.data, run)
    before = (run.path / "ingest" / "tickets.parquet").read_bytes()
    tickets.write_bytes(b"")
    with pytest.raises(TicketsimError):
        ingest(cfg.data, run)
    assert (run.path / "ingest" / "tickets.parquet").read_bytes() == before


def test_unknown_template_field_is_a_config_error(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, write_csv(tmp_path / "t.csv"), text_template="{title}")
    with pytest.raises(ConfigError, match="text_template names unknown field"):
        build_tickets(cfg.data)


def test_links_csv_header_detection_without_ticket_ids(tmp_path: Path) -> None:
    """Without the ticket ids (a plain read_links call) the cells' shape decides."""
    from ticketsim.data.links import read_links

    cases = {"T1,T4\nT2,T3\n": (2, True), "INC-0001,INC-0007\nINC-0002,INC-0003\n": (2, True),
             "Issue id,Duplicate id\n1610468,1611120\n": (1, False), "a_id,b_id\nX9,X8\n": (1, False)}
    for text, (n, headerless) in cases.items():
        p = tmp_path / "l.csv"
        p.write_text(text)
        warnings: list[str] = []
        links = read_links(p, warnings=warnings)
        assert len(links) == n, text
        assert any("no header row" in w for w in warnings) == headerless, (text, warnings)
    assert [(lk.a, lk.b, lk.row) for lk in read_links(p)] == [("X9", "X8", 2)]
    p.write_text("T1,T4\nT2,T3\n")
    assert [(lk.a, lk.b, lk.row) for lk in read_links(p)] == [("T1", "T4", 1), ("T2", "T3", 2)]


@pytest.mark.config_keys("data.max_excel_mb")
def test_max_excel_mb_bounds_the_unpacked_workbook(tmp_path: Path) -> None:
    """The limit is checked from the zip directory before openpyxl reads anything."""
    import zipfile

    p = tmp_path / "t.xlsx"
    pd.DataFrame({"id": [1, 2], "short_description": ["vpn", "mail"], "description": ["a", "b"]}
                 ).to_excel(p, index=False)
    unpacked = sum(i.file_size for i in zipfile.ZipFile(p).infolist())
    ok = config_from_dict({"data": {"tickets": str(p), "max_excel_mb": unpacked / 1e6 + 0.001}})
    assert build_tickets(ok.data)[0]["id"].tolist() == ["1", "2"]
    tight = config_from_dict({"data": {"tickets": str(p), "max_excel_mb": unpacked / 1e6 - 0.001}})
    with pytest.raises(TicketsimError, match=r"unpacks to .* MB, over the limit .*data.max_excel_mb"):
        build_tickets(tight.data)
