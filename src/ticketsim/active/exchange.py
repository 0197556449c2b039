"""Suggested pairs out to a spreadsheet (CSV / JSON lines) and answers back into the links store.

Export: one row per pair with both tickets' short descriptions and texts side by side
and an empty ``answer`` column. Any cell starting with ``=``, ``+``, ``-``, ``@`` (or a
tab / carriage return) gets a leading apostrophe, so a spreadsheet shows a ticket that
says ``=HYPERLINK(...)`` as text instead of running it (the OWASP CSV-injection rule);
import strips exactly that apostrophe again.

Import: validates every row (file, row and field named in the error), maps the answer
(``duplicate``/``d``/``1``, ``related``/``r``, ``not related``/``n``/``0``; empty or
``skip``: not answered) and writes all answers in one store transaction. Answers that
contradict what the store already holds are appended and reported as conflicts, never
silently overwritten.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from ticketsim.data.readers import json_records
from ticketsim.data.store import LinksStore, ordered
from ticketsim.errors import TicketsimError
from ticketsim.rundir import atomic_write_text

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = ["a", "b", "answer", "short_description_a", "short_description_b",
                  "category_a", "category_b", "score", "probability", "strategy", "reason",
                  "text_a", "text_b"]
ANSWERS: dict[str, tuple[int, str] | None] = {
    "duplicate": (1, "duplicate"), "dup": (1, "duplicate"), "d": (1, "duplicate"),
    "1": (1, "duplicate"), "yes": (1, "duplicate"),
    "related": (1, "related"), "r": (1, "related"),
    "not related": (0, "related"), "not_related": (0, "related"), "unrelated": (0, "related"),
    "n": (0, "related"), "0": (0, "related"), "no": (0, "related"),
    "": None, "skip": None, "s": None,
}
"""Answer text -> (label, kind) as the service's feedback stores it; None: not answered."""


def escape_cell(value: Any) -> Any:
    """Prefix a formula-looking string with an apostrophe so a spreadsheet shows it as text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    """Undo :func:`escape_cell` (only an apostrophe that guards a formula character)."""
    if value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


def export_rows(selected: pd.DataFrame, tickets: pd.DataFrame, strategy: str) -> list[dict[str, Any]]:
    """Rows of the export: the selected pairs with both tickets' fields side by side."""
    by_id = tickets.assign(id=tickets["id"].astype(str)).set_index("id")

    def field(tid: str, name: str) -> str:
        if name not in by_id.columns or tid not in by_id.index:
            return ""
        v = by_id.at[tid, name]
        return "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)

    rows = []
    for r in selected.itertuples(index=False):
        p = getattr(r, "probability", None)
        rows.append({
            "a": r.a, "b": r.b, "answer": "",
            "short_description_a": field(r.a, "short_description"),
            "short_description_b": field(r.b, "short_description"),
            "category_a": field(r.a, "category"), "category_b": field(r.b, "category"),
            "score": round(float(r.score), 4),
            "probability": None if p is None or pd.isna(p) else round(float(p), 4),
            "strategy": strategy, "reason": getattr(r, "reason", ""),
            "text_a": field(r.a, "text"), "text_b": field(r.b, "text"),
        })
    return rows


def fmt_of(path: Path, fmt: str = "auto") -> str:
    if fmt != "auto":
        return fmt
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise TicketsimError("cannot tell the format from the extension", file=path,
                         hint="name the file .csv or .jsonl, or pass --format")


def write_export(rows: list[dict[str, Any]], path: str | Path, fmt: str = "auto") -> Path:
    """Write the rows atomically as CSV or JSON lines, formula cells escaped in both."""
    path = Path(path)
    kind = fmt_of(path, fmt)
    safe = [{c: escape_cell(r.get(c)) for c in EXPORT_COLUMNS} for r in rows]
    if kind == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows({k: "" if v is None else v for k, v in r.items()} for r in safe)
        text = buf.getvalue()
    else:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in safe)
    atomic_write_text(path, text)
    return path


@dataclasses.dataclass
class ImportResult:
    """What an import did: answers added, already known, left blank, and conflicts."""

    rows: int = 0
    added: int = 0
    unchanged: int = 0
    unanswered: int = 0
    conflicts: list[tuple[str, str, int, int]] = dataclasses.field(default_factory=list)


def _read_rows(path: Path, fmt: str) -> list[tuple[int, dict[str, str]]]:
    """(1-based data row number, row) pairs; CSV row numbers count the header as row 1."""
    kind = fmt_of(path, fmt)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TicketsimError(f"not UTF-8 text ({exc.reason})", file=path,
                             hint="save the sheet as CSV UTF-8") from None
    out: list[tuple[int, dict[str, str]]] = []
    if kind == "csv":
        reader = csv.DictReader(io.StringIO(text))
        missing = {"a", "b", "answer"} - set(reader.fieldnames or [])
        if missing:
            raise TicketsimError(f"missing column(s) {sorted(missing)}", file=path, row=1,
                                 hint="keep the a, b and answer columns of the export")
        for n, row in enumerate(reader, start=2):
            out.append((n, {k: (v or "") for k, v in row.items() if k is not None}))
        return out
    for n, obj in json_records(text, path):
        if not isinstance(obj, dict):
            raise TicketsimError("each line must be a JSON object", file=path, row=n)
        for key in ("a", "b"):
            if key not in obj:
                raise TicketsimError("missing", file=path, row=n, field=key)
        out.append((n, {k: "" if v is None else str(v) for k, v in obj.items()}))
    return out


def parse_answers(path: str | Path, *, known_ids: set[str] | None = None,
                  fmt: str = "auto") -> tuple[list[tuple[str, str, int, None, str]], int]:
    """Validated ``(a, b, label, score, kind)`` answers of a file, and how many were blank."""
    path = Path(path)
    if not path.is_file():
        raise TicketsimError("file not found", file=path)
    answers: dict[tuple[str, str], tuple[int, tuple[int, str]]] = {}
    blank = 0
    rows_read = list(_read_rows(path, fmt))
    if known_ids is not None:  # name every unknown id at once, not only the first
        unknown = [(n, key, unescape_cell(row.get(key, "").strip())) for n, row in rows_read
                   for key in ("a", "b")]
        unknown = [u for u in unknown if u[2] and u[2] not in known_ids]
        if unknown:
            n, key, _ = unknown[0]
            names = list(dict.fromkeys(repr(v) for _, _, v in unknown))
            raise TicketsimError(f"unknown ticket id{'s' if len(names) > 1 else ''} "
                                 f"{', '.join(names)}", file=path, row=n, field=key,
                                 hint="every pair must come from this run's tickets; nothing "
                                 "was imported")
    for n, row in rows_read:
        a = unescape_cell(row.get("a", "").strip())
        b = unescape_cell(row.get("b", "").strip())
        for key, val in (("a", a), ("b", b)):
            if not val:
                raise TicketsimError("empty ticket id", file=path, row=n, field=key)
        if a == b:
            raise TicketsimError(f"a ticket cannot be linked to itself ({a!r})", file=path,
                                 row=n, field="b")
        raw = unescape_cell(row.get("answer", "")).strip().lower()
        if raw not in ANSWERS:
            raise TicketsimError(
                f"unknown answer {raw!r}", file=path, row=n, field="answer",
                hint="use duplicate, related, not related (or d / r / n), or leave it empty")
        mapped = ANSWERS[raw]
        if mapped is None:
            blank += 1
            continue
        pair = ordered(a, b)
        if pair in answers and answers[pair][1] != mapped:
            raise TicketsimError(
                f"pair ({a}, {b}) is answered differently on row {answers[pair][0]}",
                file=path, row=n, field="answer", hint="keep one answer per pair")
        answers[pair] = (n, mapped)
    rows = [(x, y, lab, None, kind) for (x, y), (_, (lab, kind)) in answers.items()]
    return rows, blank


def import_answers(path: str | Path, store: LinksStore, *, who: str | None,
                   known_ids: set[str] | None = None, fmt: str = "auto",
                   source: str = "label:import") -> ImportResult:
    """Validate a filled-in export and add its answers to the store in one transaction."""
    rows, blank = parse_answers(path, known_ids=known_ids, fmt=fmt)
    res = store.add(rows, source=source, who=who)
    return ImportResult(rows=len(rows) + blank, added=res.added, unchanged=res.unchanged,
                        unanswered=blank, conflicts=list(res.conflicts or []))
