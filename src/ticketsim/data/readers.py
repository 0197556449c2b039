"""Read ticket exports (CSV, Excel, JSON lines, Parquet) as tables of exact strings.

Everything is read as text: pandas would otherwise turn ``00123`` into ``123`` and
``4711`` into ``4711.0``, and ids must stay exactly as the export wrote them.
Row numbers in errors follow the spreadsheet convention: the header is row 1,
the first ticket row 2 (for JSON lines: the line number).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pandas as pd

from ticketsim.errors import TicketsimError

FORMATS = ("csv", "excel", "jsonl", "parquet")


def detect_format(path: Path, fmt: str = "auto") -> str:
    """The export format: given explicitly, or from the file extension."""
    if fmt != "auto":
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".zip", ".xz"):
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    mapping = {
        ".csv": "csv", ".tsv": "csv", ".txt": "csv",
        ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel",
        ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
        ".parquet": "parquet", ".pq": "parquet",
    }
    if ext not in mapping:
        raise TicketsimError(
            f"cannot tell the format from the extension '{ext or '(none)'}'",
            file=path,
            hint="set data.format to csv, excel, jsonl or parquet",
        )
    return mapping[ext]


def read_text(path: Path, encoding: str | None) -> str:
    """Decode a text file; invalid bytes are an error naming the row, not mojibake."""
    raw = path.read_bytes()
    if path.suffix.lower() == ".gz":
        raw = gzip.decompress(raw)
    enc = encoding or "utf-8-sig"
    try:
        text = raw.decode(enc)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TicketsimError(
            f"not valid {enc} (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            file=path,
            row=line,
            hint="set data.encoding, e.g. cp1252 or latin-1 for exports from Windows tools",
        ) from None
    except LookupError:
        raise TicketsimError(f"unknown encoding '{enc}'", file=path, field="data.encoding") from None
    return text.removeprefix("\ufeff")


def sniff_delimiter(sample: str) -> str:
    """Comma, semicolon, tab or pipe, whichever the header and first rows agree on."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        first = sample.split("\n", 1)[0]
        counts = {d: first.count(d) for d in ",;\t|"}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _read_csv(path: Path, encoding: str | None, delimiter: str | None) -> pd.DataFrame:
    text = read_text(path, encoding)
    if not text.strip():
        raise TicketsimError("the file is empty", file=path, hint="export the tickets again")
    sep = delimiter or sniff_delimiter(text[:65536])
    try:
        df = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False,
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise TicketsimError(f"not a readable CSV: {exc}", file=path,
                             hint="check quoting, or set data.delimiter") from None
    except pd.errors.EmptyDataError:
        raise TicketsimError("the file is empty", file=path, hint="export the tickets again") from None
    return df


def json_records(text: str, path: Path) -> list[tuple[int, object]]:
    """(row, object) pairs of a JSON array (row = position) or JSON lines (row = line number).

    Shared by ticket, link and answer files so every JSON error names the same row.
    """
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise TicketsimError(f"not valid JSON: {exc.msg}", file=path, row=exc.lineno) from None
        return list(enumerate(data, start=1))
    out: list[tuple[int, object]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise TicketsimError(f"not valid JSON: {exc.msg}", file=path, row=lineno) from None
    return out


def _read_jsonl(path: Path, encoding: str | None) -> pd.DataFrame:
    text = read_text(path, encoding)
    if not text.strip():
        raise TicketsimError("the file is empty", file=path, hint="export the tickets again")
    pairs = json_records(text, path)
    rows = [r for r, _ in pairs]
    records = [o for _, o in pairs]
    for rec, lineno in zip(records, rows, strict=True):
        if not isinstance(rec, dict):
            raise TicketsimError("each line must be a JSON object", file=path, row=lineno)
    df = pd.DataFrame.from_records(records)
    df = df.map(_to_exact_str)
    df.attrs["row_numbers"] = rows
    return df


def _to_exact_str(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float) and v != v:  # NaN
        return ""
    return str(v)


def _read_excel(path: Path, sheet: str | int | None) -> pd.DataFrame:
    try:
        df = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, dtype=object)
    except ValueError as exc:
        raise TicketsimError(f"cannot read sheet {sheet!r}: {exc}", file=path,
                             field="data.sheet") from None
    return df.map(_to_exact_str)


def _read_parquet(path: Path) -> pd.DataFrame:
    df = pd.read_parquet(path)
    return df.astype(object).map(_to_exact_str)


def read_table(
    path: str | Path,
    fmt: str = "auto",
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """Read an export into a DataFrame of strings; ``df.attrs['row_numbers']`` gives source rows."""
    p = Path(path)
    if not p.is_file():
        raise TicketsimError("file not found", file=p, hint="check data.tickets / the path given")
    if p.stat().st_size == 0:
        raise TicketsimError("the file is empty", file=p, hint="export the tickets again")
    kind = detect_format(p, fmt)
    if kind == "csv":
        df = _read_csv(p, encoding, delimiter)
    elif kind == "jsonl":
        df = _read_jsonl(p, encoding)
    elif kind == "excel":
        df = _read_excel(p, sheet)
    else:
        df = _read_parquet(p)
    df.columns = [str(c).strip().removeprefix("\ufeff") for c in df.columns]
    if "row_numbers" not in df.attrs:
        df.attrs["row_numbers"] = list(range(2, len(df) + 2))
    if len(df) == 0:
        raise TicketsimError("the file has a header but no rows", file=p,
                             hint="export the tickets again")
    return df
