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
import zipfile
import zlib
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
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:  # EOFError: click would report 'aborted'
            raise TicketsimError(f"not a complete gzip file ({exc or type(exc).__name__})", file=path,
                                 hint="the file is truncated or damaged: copy or export it again"
                                 ) from None
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


def _csv_warnings(text: str, sep: str) -> list[str]:
    """What pandas would change without a word: short rows padded, repeated column names."""
    out: list[str] = []
    try:
        records = [r for r in csv.reader(io.StringIO(text), delimiter=sep) if r]
    except csv.Error:  # pandas reports unreadable CSV itself
        return out
    if not records:
        return out
    header = [h.strip().removeprefix("\ufeff") for h in records[0]]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            out.append(f"column name '{name}' appears more than once: only the first is read "
                       f"under that name (the next is '{name}.1')")
        seen.add(name)
    short = [i for i, r in enumerate(records[1:], start=2) if len(r) < len(header)]
    if short:
        out.append(f"{len(short)} row(s) have fewer fields than the header's {len(header)} and "
                   f"were padded with empty values (first: row {short[0]})")
    return out


def _read_csv(path: Path, encoding: str | None, delimiter: str | None) -> pd.DataFrame:
    text = read_text(path, encoding)
    if not text.strip():
        raise TicketsimError("the file is empty", file=path, hint="export the tickets again")
    warnings: list[str] = []
    nul = text.count("\x00")
    if nul:
        line = text[: text.index("\x00")].count("\n") + 1
        text = text.replace("\x00", "")
        warnings.append(f"{nul} NUL byte(s) removed (first on line {line}); a file full of them "
                        "is usually UTF-16: set data.encoding")
    sep = delimiter or sniff_delimiter(text[:65536])
    warnings += _csv_warnings(text, sep)
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
    df.attrs["warnings"] = warnings
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
        except RecursionError:
            raise TicketsimError(TOO_DEEP, file=path, hint=FLAT) from None
        return list(enumerate(data, start=1))
    out: list[tuple[int, object]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise TicketsimError(f"not valid JSON: {exc.msg}", file=path, row=lineno) from None
        except RecursionError:
            raise TicketsimError(TOO_DEEP, file=path, row=lineno, hint=FLAT) from None
    return out


TOO_DEEP = "JSON nested too deeply to read"
FLAT = "one flat object per ticket or link is expected"


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


def check_zip_size(path: Path, max_bytes: int) -> None:
    """Refuse an .xlsx whose parts unpack to more than ``max_bytes`` (a zip bomb) before reading it.

    openpyxl holds a whole sheet in memory, at many times its XML size: a 1 MB bomb took
    2.3 GB. The sizes come from the zip directory, so nothing is unpacked to check them.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(max(i.file_size, 0) for i in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise TicketsimError(f"not a readable .xlsx (zip) file: {exc}", file=path,
                             hint="open and save it in Excel again, or export CSV") from None
    if total > max_bytes:
        raise TicketsimError(
            f"the workbook unpacks to {total / 1e6:,.0f} MB, over the limit of "
            f"{max_bytes / 1e6:,.0f} MB (data.max_excel_mb); refused unread (a zip bomb, or a "
            "sheet too large for memory)", file=path,
            hint="export CSV instead, or raise data.max_excel_mb if the file is trusted")


def _read_excel(path: Path, sheet: str | int | None, max_bytes: int) -> pd.DataFrame:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        check_zip_size(path, max_bytes)
    try:
        df = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, dtype=object)
    except ImportError as exc:  # .xls needs xlrd, which ticketsim does not install
        raise TicketsimError(f"cannot read {path.suffix or 'this'} files here: {exc}", file=path,
                             hint="save the sheet as .xlsx or CSV, or install the reader named") from None
    except ValueError as exc:
        if sheet is not None and "not found" in str(exc).lower():
            raise TicketsimError(f"cannot read sheet {sheet!r}: {exc}", file=path,
                                 field="data.sheet") from None
        raise TicketsimError(f"not a readable Excel file: {exc}", file=path,
                             hint="open and save it in Excel again, or export CSV") from None
    except Exception as exc:  # a damaged workbook: the reader's own exception types vary
        raise TicketsimError(f"not a readable Excel file: {type(exc).__name__}: {exc}", file=path,
                             hint="open and save it in Excel again, or export CSV") from None
    return df.map(_to_exact_str)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow's ArrowInvalid / OSError for a damaged or foreign file
        raise TicketsimError(f"not a readable Parquet file: {type(exc).__name__}: {exc}", file=path,
                             hint="write the file again, or set data.format if it is not Parquet"
                             ) from None
    return df.astype(object).map(_to_exact_str)


def read_table(
    path: str | Path,
    fmt: str = "auto",
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | int | None = None,
    max_excel_bytes: int = 200_000_000,
) -> pd.DataFrame:
    """Read an export into a DataFrame of strings.

    ``df.attrs['row_numbers']`` gives source rows, ``df.attrs['warnings']`` what reading
    changed without failing (NUL bytes removed, short rows padded, repeated column names).
    """
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
        df = _read_excel(p, sheet, max_excel_bytes)
    else:
        df = _read_parquet(p)
    df.columns = [str(c).strip().removeprefix("\ufeff") for c in df.columns]
    if "row_numbers" not in df.attrs:
        df.attrs["row_numbers"] = list(range(2, len(df) + 2))
    df.attrs.setdefault("warnings", [])
    if len(df) == 0:
        raise TicketsimError("the file has a header but no rows", file=p,
                             hint="export the tickets again")
    return df
