"""Read known ticket links: JSON / JSON lines objects, or a two-column duplicate CSV.

Jira and Bugzilla exports give duplicates as two id columns; richer sources give
``{"a", "b", "label", "score", "kind"}`` objects. Both become :class:`Link` rows,
validated with file and row in every error.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from ticketsim.data.readers import json_records, read_table, read_text
from ticketsim.errors import TicketsimError

KINDS = ("duplicate", "related")


@dataclass(frozen=True)
class Link:
    """One known relation between two tickets (undirected)."""

    a: str
    b: str
    label: int = 1
    score: float | None = None
    kind: str = "duplicate"
    row: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.a, self.b) if self.a <= self.b else (self.b, self.a)


def _id(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if value is not None else ""


def _shape(value: str) -> str:
    """'INC-0042' -> 'A-9': letters and digits folded, to compare a header cell with ids."""
    return re.sub(r"[0-9]+", "9", re.sub(r"[^\W\d_]+", "A", value.strip()))


def _headerless(ca: str, cb: str, col_a: list[str], col_b: list[str], ids: set[str] | None) -> bool:
    """True when the 'header' of a two-column links CSV is really its first link.

    With the ticket ids known (ingest): both cells are ticket ids. Otherwise both cells
    have the shape of the ids below them (``T1`` over ``T2``, not ``Issue id`` over ``1610468``).
    """
    if ids is not None and (ca in ids or cb in ids):
        return ca in ids and cb in ids
    shapes_a, shapes_b = {_shape(v) for v in col_a[:50]}, {_shape(v) for v in col_b[:50]}
    return _shape(ca) in shapes_a and _shape(cb) in shapes_b


def _parse_object(obj: object, path: Path, row: int,
                  warnings: dict[str, list[int]] | None = None) -> Link:
    if not isinstance(obj, dict):
        raise TicketsimError("a link must be an object with 'a' and 'b'", file=path, row=row)
    for key in ("a", "b"):
        if key not in obj or _id(obj[key]) == "":
            raise TicketsimError("missing ticket id", file=path, row=row, field=key,
                                 hint='each link needs {"a": id, "b": id}')
    unknown = set(obj) - {"a", "b", "label", "score", "kind", "source", "who", "when"}
    if unknown:
        raise TicketsimError(f"unknown field(s) {sorted(unknown)}", file=path, row=row,
                             hint="allowed: a, b, label, score, kind")
    label = obj.get("label", 1)
    if label is True or label is False:
        if warnings is not None:
            warnings.setdefault("bool_label", []).append(row)
        label = int(label)
    if label not in (0, 1) or isinstance(label, float) and not float(label).is_integer():
        raise TicketsimError(f"label must be 0 or 1, got {label!r}", file=path, row=row, field="label")
    score = obj.get("score")
    if score is not None:
        try:
            score = float(score)
        except (TypeError, ValueError):
            raise TicketsimError(f"score must be a number, got {score!r}", file=path, row=row,
                                 field="score") from None
        if math.isnan(score) or not 0.0 <= score <= 1.0:
            raise TicketsimError(f"score must be between 0 and 1, got {score}", file=path, row=row,
                                 field="score")
    kind = obj.get("kind", "duplicate") or "duplicate"
    if kind not in KINDS:
        raise TicketsimError(f"kind must be one of {KINDS}, got {kind!r}", file=path, row=row,
                             field="kind")
    return Link(a=_id(obj["a"]), b=_id(obj["b"]), label=int(label), score=score, kind=kind, row=row)


def _read_json_links(path: Path, encoding: str | None,
                     notes: dict[str, list[int]]) -> list[Link]:
    return [_parse_object(o, path, r, notes)
            for r, o in json_records(read_text(path, encoding), path)]


def _read_csv_links(path: Path, encoding: str | None, ids: set[str] | None,
                    warnings: list[str]) -> list[Link]:
    df = read_table(path, "csv", encoding=encoding)
    warnings += df.attrs.get("warnings", [])
    rows = df.attrs["row_numbers"]
    cols = {c.lower(): c for c in df.columns}
    if "a" in cols and "b" in cols:
        out = []
        for r, rec in zip(rows, df.to_dict("records"), strict=True):
            obj = {k.lower(): v for k, v in rec.items() if v != ""}
            obj = {k: v for k, v in obj.items() if k in ("a", "b", "label", "score", "kind")}
            if "label" in obj:
                try:
                    obj["label"] = int(float(obj["label"]))
                except ValueError:
                    raise TicketsimError(f"label must be 0 or 1, got {obj['label']!r}", file=path,
                                         row=r, field="label") from None
            out.append(_parse_object(obj, path, r))
        return out
    if len(df.columns) < 2:
        raise TicketsimError("a links CSV needs two id columns (or columns a and b)", file=path)
    ca, cb = df.columns[0], df.columns[1]
    triples = list(zip(rows, df[ca], df[cb], strict=True))
    if _headerless(ca, cb, df[ca].tolist(), df[cb].tolist(), ids):
        triples.insert(0, (1, ca, cb))
        warnings.append(f"no header row: its first line ({ca}, {cb}) was read as a link")
    if len(df.columns) > 2:
        warnings.append(f"column(s) {', '.join(map(repr, map(str, df.columns[2:])))} ignored: a "
                        "links CSV without columns a and b gives two id columns")
    out = []
    for r, a, b in triples:
        if _id(a) == "" or _id(b) == "":
            raise TicketsimError("missing ticket id", file=path, row=r,
                                 field=ca if _id(a) == "" else cb)
        out.append(Link(a=_id(a), b=_id(b), row=r))
    return out


def read_links(path: str | Path, encoding: str | None = None, *, ids: set[str] | None = None,
               warnings: list[str] | None = None) -> list[Link]:
    """Read a links file; contradictory labels for one pair in the file are an error.

    ``ids`` (the tickets' ids, when known) tells a headerless two-column CSV from one with
    a header; what was read but changed or left out is appended to ``warnings``.
    """
    p = Path(path)
    if not p.is_file():
        raise TicketsimError("links file not found", file=p, hint="check data.links")
    suffix = p.suffix.lower()
    notes: list[str] = []
    rows: dict[str, list[int]] = {}
    if suffix in (".csv", ".tsv", ".txt") or p.name.lower().endswith((".csv.gz", ".tsv.gz")):
        links = _read_csv_links(p, encoding, ids, notes)
    else:
        links = _read_json_links(p, encoding, rows)
    if rows.get("bool_label"):
        r = rows["bool_label"]
        notes.append(f"{len(r)} label(s) given as true/false were taken as 1/0 (first: row {r[0]})")
    if warnings is not None:
        warnings += notes
    seen: dict[tuple[str, str], Link] = {}
    for link in links:
        prev = seen.get(link.key)
        if prev is not None and (prev.label != link.label):
            raise TicketsimError(
                f"contradictory labels for pair ({link.a}, {link.b}): label {prev.label} at row "
                f"{prev.row} and label {link.label}",
                file=p, row=link.row, field="label",
                hint="keep one answer per pair in the file",
            )
        seen.setdefault(link.key, link)
    return links
