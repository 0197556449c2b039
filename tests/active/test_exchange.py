"""Export for a spreadsheet (formula cells escaped) and validated import into the links store."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from ticketsim.active.exchange import (
    escape_cell,
    export_rows,
    import_answers,
    unescape_cell,
    write_export,
)
from ticketsim.data.store import LinksStore
from ticketsim.errors import TicketsimError

TICKETS = pd.DataFrame({
    "id": ["T1", "T2", "T3", "=T4"],
    "short_description": ["=cmd|' /C calc'!A0", "+1 vpn", "printer", "@SUM(A1)"],
    "text": ["-2 outlook", "vpn drops", "\tprinter jam", "safe"],
    "category": ["Email", "Network", "Hardware", "Email"],
})
SELECTED = pd.DataFrame({"a": ["T1", "T2", "=T4"], "b": ["T2", "T3", "T3"],
                         "score": [0.8, 0.5, 0.4], "probability": [0.6, 0.3, None],
                         "reason": ["r1", "r2", "r3"]})


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_formula_cells_are_escaped_and_unescaped(value: str) -> None:
    assert escape_cell(value) == "'" + value
    assert unescape_cell(escape_cell(value)) == value


def test_plain_cells_and_apostrophes_are_left_alone() -> None:
    assert escape_cell("vpn") == "vpn" and escape_cell(3) == 3
    assert unescape_cell("'quoted'") == "'quoted'"


@pytest.mark.parametrize("name", ["todo.csv", "todo.jsonl"])
def test_export_escapes_every_formula_cell_and_imports_back(tmp_path: Path, name: str) -> None:
    path = write_export(export_rows(SELECTED, TICKETS, "uncertainty"), tmp_path / name)
    if name.endswith(".csv"):
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
    else:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 3
    cells = [str(v) for r in rows for v in r.values() if v not in (None, "")]
    assert not [c for c in cells if c[0] in "=+-@\t\r"], "an unescaped formula cell"
    assert rows[0]["short_description_a"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["text_a"] == "'-2 outlook" and rows[1]["text_b"] == "'\tprinter jam"
    assert rows[2]["a"] == "'=T4"
    # fill in the answers as a person would, then import
    for r, ans in zip(rows, ["duplicate", "n", ""], strict=True):
        r["answer"] = ans
    if name.endswith(".csv"):
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    store = LinksStore(tmp_path / "links.sqlite")
    res = import_answers(path, store, who="alice", known_ids=set(TICKETS["id"]))
    assert (res.rows, res.added, res.unanswered, res.conflicts) == (3, 2, 1, [])
    snap = store.snapshot().set_index(["a", "b"])
    assert snap.loc[("T1", "T2"), "label"] == 1 and snap.loc[("T1", "T2"), "kind"] == "duplicate"
    assert snap.loc[("T2", "T3"), "label"] == 0
    assert set(snap["who"]) == {"alice"} and set(snap["source"]) == {"label:import"}
    again = import_answers(path, store, who="alice")
    assert (again.added, again.unchanged) == (0, 2)


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("rows", "match"), [
    ([{"a": "T1", "b": "T9", "answer": "d"}], r"row 2, field 'b': unknown ticket id 'T9'"),
    ([{"a": "T1", "b": "T2", "answer": "d"}, {"a": "T2", "b": "T1", "answer": "maybe"}],
     r"row 3, field 'answer': unknown answer 'maybe'"),
    ([{"a": "T1", "b": "T1", "answer": "d"}], r"row 2, field 'b'.*itself"),
    ([{"a": "T1", "b": "T2", "answer": "d"}, {"a": "T2", "b": "T1", "answer": "n"}],
     r"row 3, field 'answer'.*answered differently on row 2"),
    ([{"a": "", "b": "T2", "answer": "d"}], r"row 2, field 'a': empty ticket id"),
])
def test_bad_rows_name_file_row_and_field(tmp_path: Path, rows: list[dict[str, str]],
                                          match: str) -> None:
    path = write_csv(tmp_path / "bad.csv", rows)
    store = LinksStore(tmp_path / "links.sqlite")
    with pytest.raises(TicketsimError, match=match) as err:
        import_answers(path, store, who="x", known_ids={"T1", "T2", "T3"})
    assert str(path) in str(err.value)
    assert store.history().empty, "nothing is written when a row is bad"


def test_missing_columns_and_bad_json_are_reported(tmp_path: Path) -> None:
    store = LinksStore(tmp_path / "links.sqlite")
    with pytest.raises(TicketsimError, match=r"row 1: missing column\(s\) \['answer'\]"):
        import_answers(write_csv(tmp_path / "x.csv", [{"a": "T1", "b": "T2"}]), store, who="x")
    bad = tmp_path / "x.jsonl"
    bad.write_text('{"a": "T1", "b": "T2", "answer": "d"}\n{oops\n')
    with pytest.raises(TicketsimError, match=r"x.jsonl, row 2: not valid JSON"):
        import_answers(bad, store, who="x")
    with pytest.raises(TicketsimError, match="cannot tell the format"):
        import_answers(write_csv(tmp_path / "x.txt", [{"a": "T1"}]), store, who="x")


def test_a_contradicting_answer_is_reported_as_a_conflict_not_overwritten(tmp_path: Path) -> None:
    store = LinksStore(tmp_path / "links.sqlite")
    store.add([("T1", "T2", 1, None, "duplicate")], source="import:links.json")
    res = import_answers(write_csv(tmp_path / "a.csv", [{"a": "T2", "b": "T1", "answer": "not related"}]),
                         store, who="bob")
    assert res.conflicts == [("T1", "T2", 1, 0)]
    hist = store.history()
    assert hist["label"].tolist() == [1, 0] and hist["who"].tolist()[-1] == "bob"
    assert len(store.conflicts()) == 2
