"""Read known ticket links: JSON / JSON lines objects, or a two-column duplicate CSV.

Jira and Bugzilla exports give duplicates as two id columns; richer sources give
``{"a", "b", "label", "score", "kind"}`` objects. Both become :class:`Link` rows,
validated with file and row in every error.
"""

from __future__ import annotations

import math
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


def _parse_object(obj: object, path: Path, row: int) -> Link:
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
    if label in (True, False):
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


def _read_json_links(path: Path, encoding: str | None) -> list[Link]:
    return [_parse_object(o, path, r) for r, o in json_records(read_text(path, encoding), path)]


def _read_csv_links(path: Path, encoding: str | None) -> list[Link]:
    df = read_table(path, "csv", encoding=encoding)
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
    out = []
    for r, a, b in zip(rows, df[ca], df[cb], strict=True):
        if _id(a) == "" or _id(b) == "":
            raise TicketsimError("missing ticket id", file=path, row=r,
                                 field=ca if _id(a) == "" else cb)
        out.append(Link(a=_id(a), b=_id(b), row=r))
    return out


def read_links(path: str | Path, encoding: str | None = None) -> list[Link]:
    """Read a links file; contradictory labels for one pair in the file are an error."""
    p = Path(path)
    if not p.is_file():
        raise TicketsimError("links file not found", file=p, hint="check data.links")
    suffix = p.suffix.lower()
    links = _read_csv_links(p, encoding) if suffix in (".csv", ".tsv", ".txt") else _read_json_links(
        p, encoding)
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
