"""The ingest stage: export + known links -> ``ingest/tickets.parquet``, links snapshot, summary.

Reads through the column mapping, cleans text, renders the embedded ``text`` from
``data.text_template``, validates (file, row and field in every error), imports
links into the links store and snapshots it for this run.
"""

from __future__ import annotations

import dataclasses
import re
import string
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ticketsim.config import DataConfig
from ticketsim.data.cleaning import clean_text
from ticketsim.data.links import Link, read_links
from ticketsim.data.readers import read_table
from ticketsim.data.store import LinksStore
from ticketsim.errors import ConfigError, TicketsimError
from ticketsim.ids import RESERVED_COLUMNS, id_problem, short
from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import Output, RunDir, StageOutput, StageResult, combine_hashes, file_hash

STAGE = "ingest"
CORE = ["id", "short_description", "description", "category", "subcategory", "created"]
TEXT_FIELDS = ["short_description", "description", "category", "subcategory"]

_EN = set(["the", "and", "to", "is", "in", "it", "for", "of", "on", "not", "with", "my", "i", "can", "cannot", "be", "this", "that", "a", "an", "have", "has", "please", "when", "from", "error", "after", "user", "we", "you", "are", "was"])
_OTHER = set(["der", "die", "das", "und", "nicht", "ist", "ich", "mit", "le", "la", "les", "et", "est", "pas", "je", "une", "de", "el", "los", "las", "y", "que", "por", "para", "con", "il", "di", "che", "non", "het", "een", "niet", "en", "van"])
_WORD_RE = re.compile(r"[^\W\d_]+", re.UNICODE)
_EDGE_SEP_RE = re.compile(r"^[\s.,;:|-]+|[\s.,;:|-]+$")




def template_fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def looks_non_english(text: str) -> bool:
    """Heuristic: mostly non-Latin letters, or more common foreign than English function words."""
    words = [w.lower() for w in _WORD_RE.findall(text)]
    if len(words) < 4:
        return False
    letters = "".join(words)
    non_ascii = sum(1 for ch in letters if ord(ch) > 127) / max(1, len(letters))
    if non_ascii > 0.3:
        return True
    en = sum(w in _EN for w in words)
    other = sum(w in _OTHER for w in words)
    return other >= 2 and other > en


def _mapped(df: pd.DataFrame, cfg: DataConfig, path: Path) -> dict[str, str]:
    """Target field -> source column; a missing mapped column is an error listing what exists."""
    mapping: dict[str, str] = {}
    cols = cfg.columns
    for target in CORE:
        src = getattr(cols, target)
        if src is None:
            continue
        if src not in df.columns:
            raise TicketsimError(
                f"column '{src}' (mapped to {target}) is not in the file; columns are: "
                + ", ".join(map(str, df.columns[:30])),
                file=path, field=f"data.columns.{target}",
                hint="fix the column mapping in the config",
            )
        mapping[target] = src
    for extra in cols.extra:
        if extra not in df.columns:
            raise TicketsimError(
                f"extra column '{extra}' is not in the file", file=path,
                field="data.columns.extra", hint="remove it from data.columns.extra or fix its name",
            )
        if extra in CORE or extra in RESERVED_COLUMNS:
            raise ConfigError(f"data.columns.extra: '{extra}' clashes with a ticket or result field "
                              f"name (reserved: {', '.join(RESERVED_COLUMNS)})",
                              hint="rename that column in the export")
    return mapping


def build_tickets(
    cfg: DataConfig, reporter: Reporter = NULL
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read, map, clean and validate the export; returns the ticket table and counts."""
    if cfg.tickets is None:
        raise ConfigError("data.tickets is not set", hint="give the ticket export path in the config")
    path = Path(cfg.tickets)
    df = read_table(path, cfg.format, encoding=cfg.encoding, delimiter=cfg.delimiter, sheet=cfg.sheet,
                    max_excel_bytes=int(cfg.max_excel_mb * 1e6))
    warnings = list(df.attrs.get("warnings", []))
    rows = df.attrs["row_numbers"]
    mapping = _mapped(df, cfg, path)
    available = set(TEXT_FIELDS) | set(cfg.columns.extra)
    unknown = [f for f in template_fields(cfg.text_template) if f not in available]
    if unknown:
        raise ConfigError(
            f"data.text_template names unknown field(s) {unknown}; available: {sorted(available)}"
        )

    n_in = len(df)
    out = pd.DataFrame({"row": rows})
    if "id" in mapping:
        raw_ids = df[mapping["id"]].astype(str)
    else:  # no id column: the source row number is the id
        raw_ids = pd.Series([str(r) for r in rows])
    ids = raw_ids.str.strip()
    trimmed = int((ids != raw_ids).sum())
    out["id"] = ids.to_numpy()
    for target in ("short_description", "description", "category", "subcategory"):
        src = mapping.get(target)
        values = df[src] if src else pd.Series([""] * n_in)
        if target in ("short_description", "description"):
            values = [clean_text(v, cfg.cleaning) for v in reporter.track(
                values.tolist(), total=n_in, description=f"cleaning {target}")]
        else:
            values = [str(v).strip() for v in values]
        out[target] = values
    for extra in cfg.columns.extra:
        out[extra] = df[extra].astype(str).to_numpy()

    created_bad = 0
    if "created" in mapping:
        raw = df[mapping["created"]].astype(str).str.strip()
        parsed = pd.to_datetime(raw.replace("", None), errors="coerce", format="mixed", utc=True)
        bad = parsed.isna() & (raw != "")
        created_bad = int(bad.sum())
        if created_bad:
            first = int(np.flatnonzero(bad.to_numpy())[0])
            warnings.append(f"{created_bad} '{mapping['created']}' value(s) are not dates and were "
                            f"left empty (first: row {rows[first]}, {short(raw.iloc[first], 40)!r})")
        out["created"] = parsed.dt.tz_localize(None).to_numpy()
    else:
        out["created"] = pd.NaT

    fmt_fields = {f: out[f].tolist() for f in template_fields(cfg.text_template)}
    texts = []
    for i in range(n_in):
        values = {k: v[i] for k, v in fmt_fields.items()}
        text = cfg.text_template.format(**values)
        # An empty field leaves a dangling separator ("Title. "): trim separators at the ends.
        text = _EDGE_SEP_RE.sub("", re.sub(r"\s+", " ", text))
        texts.append(text[: cfg.truncate_text_at_chars])
    out["text"] = texts

    reasons: Counter[str] = Counter()
    no_id = out["id"] == ""
    reasons["missing id"] = int(no_id.sum())
    empty = (out["text"] == "") & ~no_id  # nothing left to embed or keyword-index
    reasons["empty text after cleaning"] = int(empty.sum())
    keep = ~no_id & ~empty
    if not keep.any():
        raise TicketsimError(
            "every row has an empty text after cleaning (or no id)", file=path,
            field=f"{mapping['short_description']}/{mapping.get('description', '-')}",
            hint="check the column mapping and data.cleaning",
        )
    kept = out[keep].reset_index(drop=True)
    dup = kept["id"].duplicated(keep=False)
    if dup.any():
        first = kept[dup].iloc[0]["id"]
        dup_rows = kept.loc[kept["id"] == first, "row"].tolist()
        raise TicketsimError(
            f"duplicate id '{first}' at rows {dup_rows} ({int(kept['id'].duplicated().sum())} "
            "duplicate id(s) in all)",
            file=path, row=int(dup_rows[1]), field=mapping.get("id", "id"),
            hint="ids must be unique; de-duplicate the export or map another id column",
        )
    problems = kept["id"].map(id_problem)
    if problems.notna().any():  # the one id rule of the API (ticketsim.ids)
        first = int(np.flatnonzero(problems.notna().to_numpy())[0])
        raise TicketsimError(f"ticket id {problems.iloc[first]}", file=path,
                             row=int(kept["row"].iloc[first]), field=mapping.get("id", "id"),
                             hint="the REST API could not reach such a ticket; map another id "
                             "column or shorten the ids")
    counts = {
        "rows_read": n_in,
        "rows_kept": int(len(kept)),
        "rows_dropped": {k: v for k, v in reasons.items() if v},
        "ids_trimmed": trimmed,
        "created_unparseable": created_bad,
        "warnings": [f"{path.name}: {w}" for w in warnings],
    }
    return kept.drop(columns=["row"]), counts


def _resolve_links(
    links: list[Link], ids: set[str], cfg: DataConfig, path: Path
) -> tuple[list[Link], dict[str, int]]:
    counts: Counter[str] = Counter()
    good: list[Link] = []
    seen: set[tuple[str, str]] = set()
    for link in links:
        if link.a == link.b:
            counts["self_links_dropped"] += 1
            continue
        missing = [x for x in (link.a, link.b) if x not in ids]
        if missing:
            if cfg.strict_links:
                raise TicketsimError(
                    f"link refers to unknown ticket id(s) {missing}", file=path, row=link.row,
                    field="a" if link.a in missing else "b",
                    hint="set data.strict_links: false to drop such links and count them",
                )
            counts["unknown_ticket_dropped"] += 1
            continue
        if link.key in seen:
            counts["repeated_pair_dropped"] += 1
            continue
        seen.add(link.key)
        good.append(link)
    counts["resolved"] = len(good)
    return good, dict(counts)


def _summary(tickets: pd.DataFrame, counts: dict[str, Any], link_counts: dict[str, Any]) -> dict:
    chars = tickets["text"].str.len().to_numpy()
    words = tickets["text"].str.split().str.len().to_numpy()
    pct = [5, 25, 50, 75, 95, 99]
    cats = tickets["category"][tickets["category"] != ""]
    summary = dict(counts)
    summary["categories"] = {str(k): int(v) for k, v in cats.value_counts().items()}
    if (tickets["subcategory"] != "").any():
        summary["subcategories"] = int(
            tickets.loc[tickets["subcategory"] != "", ["category", "subcategory"]]
            .drop_duplicates().shape[0])
    summary["text_chars_percentiles"] = {f"p{p}": float(np.percentile(chars, p)) for p in pct}
    summary["text_words_percentiles"] = {f"p{p}": float(np.percentile(words, p)) for p in pct}
    summary["non_english_share"] = round(
        float(np.mean([looks_non_english(t) for t in tickets["text"]])), 4)
    summary["links"] = link_counts
    return summary


def ingest(
    cfg: DataConfig, run: RunDir, *, force: bool = False, reporter: Reporter = NULL
) -> StageResult:
    """Run the ingest stage into ``run``; skipped when export, links, store and config are unchanged."""
    if cfg.tickets is None:
        raise ConfigError("data.tickets is not set", hint="give the ticket export path in the config")
    tickets_path = Path(cfg.tickets)
    if not tickets_path.is_file():
        raise TicketsimError("file not found", file=tickets_path, field="data.tickets")
    store = LinksStore(cfg.links_store)
    links_hash = file_hash(cfg.links) if cfg.links and Path(cfg.links).is_file() else "-"

    def inputs() -> str:  # asked again at the end: adding links changes the store's digest
        return combine_hashes(file_hash(tickets_path), links_hash, cfg.fingerprint(), store.digest())

    return run.produce(STAGE, inputs, lambda: _build(cfg, store, tickets_path, reporter),
                       force=force, reporter=reporter)


def _build(cfg: DataConfig, store: LinksStore, tickets_path: Path, reporter: Reporter) -> Output:
    tickets, counts = build_tickets(cfg, reporter)
    ids = set(tickets["id"])
    link_counts: dict[str, Any] = {"read": 0}
    if cfg.links:
        link_warnings: list[str] = []
        links = read_links(cfg.links, encoding=cfg.encoding, ids=ids, warnings=link_warnings)
        counts["warnings"] += [f"{Path(cfg.links).name}: {w}" for w in link_warnings]
        link_counts["read"] = len(links)
        good, lc = _resolve_links(links, ids, cfg, Path(cfg.links))
        link_counts.update(lc)
        added = store.add(
            ((lk.a, lk.b, lk.label, lk.score, lk.kind) for lk in good),
            source=f"import:{Path(cfg.links).name}",
        )
        link_counts["added_to_store"] = added.added
        link_counts["conflicts_with_store"] = len(added.conflicts or [])
    snap = store.snapshot()
    in_run = snap["a"].isin(ids) & snap["b"].isin(ids)
    link_counts["store_total"] = int(len(snap))
    link_counts["store_outside_these_tickets"] = int((~in_run).sum())
    snap = snap[in_run].reset_index(drop=True)
    link_counts["in_snapshot"] = int(len(snap))
    link_counts["positive"] = int((snap["label"] == 1).sum())
    link_counts["negative"] = int((snap["label"] == 0).sum())
    summary = _summary(tickets, counts, link_counts)
    summary["source"] = str(tickets_path)
    summary["extra_columns"] = list(cfg.columns.extra)

    def save(tmp: Path) -> None:
        tickets.to_parquet(tmp / TICKETS, index=False)
        snap.to_parquet(tmp / LINKS, index=False)

    return Output(summary, save)


TICKETS = "tickets.parquet"
LINKS = "links.parquet"


@dataclasses.dataclass(frozen=True)
class IngestOutput(StageOutput):
    """The ingest stage's artifacts, for the stages after it (no one else opens its files)."""

    STAGE = STAGE

    @property
    def tickets_path(self) -> Path:
        return self.folder / TICKETS

    @property
    def links_path(self) -> Path:
        return self.folder / LINKS

    def tickets(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The ingested tickets (``id`` as str, ``text`` ready to embed)."""
        return pd.read_parquet(self.tickets_path, columns=columns)

    def links(self) -> pd.DataFrame:
        """The run's snapshot of the links store (a, b, label, score, kind, source, who, at)."""
        return pd.read_parquet(self.links_path)


def load_tickets(run: RunDir) -> pd.DataFrame:
    """The ingested tickets of a run (``id`` as str, ``text`` ready to embed)."""
    return IngestOutput.read(run).tickets()


def ticket_ids(run: RunDir) -> set[str] | None:
    """Ids of the run's ingested tickets (None before ingest ran), e.g. to refuse labels naming
    a ticket the run does not have."""
    path = run.stage_path(STAGE) / "tickets.parquet"
    if run.read_stamp(STAGE) is None or not path.is_file():
        return None
    return set(pd.read_parquet(path, columns=["id"])["id"].astype(str))


def load_links(run: RunDir) -> pd.DataFrame:
    """The run's snapshot of the links store (a, b, label, score, kind, source, who, at)."""
    return IngestOutput.read(run).links()
