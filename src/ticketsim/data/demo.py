"""Synthetic IT service-desk history for demos, tests and simulations.

``generate_demo`` writes three files in the ingest layout:

- ``tickets.csv``: ``number`` (``INC0012345``), ``short_description``, ``description``,
  ``category``, ``subcategory``, ``assignment_group``, ``status``, ``opened_at`` (ISO),
  ``resolution_notes``. Map them with ``data.columns``: id=number, created=opened_at,
  extra=[assignment_group, status, resolution_notes]. Some texts carry e-mail headers,
  signatures and ``_x000D_`` artefacts so that cleaning has work to do.
- ``links.json``: the links a desk knows, ``{"a", "b", "label", "kind"}``:
  about 60 % of the within-group pairs of groups created before the cutoff (so mining has
  something left to find), *every* within-group pair of the groups created after it (the
  evaluation queries), about half of the true ``related`` pairs, and a few label-0 links
  between look-alikes of different categories ("outlook password" vs "vpn password").
- ``truth.json``: every true duplicate group and related pair, plus ``heldout_after``.

Why the held-out period is honest: tickets span 2024-01-01..2025-06-30 and the newest
``heldout_fraction`` of that range is held out. Every duplicate group (its tickets are
opened within two weeks) lies entirely on one side of the cutoff, and every ticket after
the cutoff is written with the ``heldout`` template and vocabulary family of
:mod:`ticketsim.data.demo_vocab`, disjoint from the ``train`` family used before it. A
model fine-tuned on the older tickets therefore has to generalise to new wording of known
issue types; it cannot win by memorising templates.

What separates a duplicate from another ticket about the same issue type is what real
duplicates share: the same site, asset tag or error code, mentioned by some members.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

from ticketsim.data.demo_vocab import (
    ABBREVIATIONS,
    DESCRIPTION_TEMPLATES,
    NAMES,
    PHRASES,
    SHORT_TEMPLATES,
    SITES,
    SUBCATEGORIES,
    SURNAMES,
    Issue,
    Subcategory,
)

START = datetime(2024, 1, 1)
END = datetime(2025, 7, 1)  # exclusive
GROUP_WINDOW = timedelta(days=14)
COLUMNS = [
    "number", "short_description", "description", "category", "subcategory",
    "assignment_group", "status", "opened_at", "resolution_notes",
]
GROUPED_SHARE = 0.38  # share of tickets that belong to duplicate groups
KNOWN_TRAIN_PAIR_SHARE = 0.6
GROUP_SIZES = (2, 3, 4, 5)
GROUP_SIZE_WEIGHTS = (0.45, 0.3, 0.15, 0.1)
DISTRACTOR_KEYWORDS = ("password", "pwd", "credentials", "passphrase", "sync", "access")


@dataclass(frozen=True)
class DemoSummary:
    """What ``generate_demo`` wrote, for the CLI to print and tests to check."""

    out_dir: Path
    tickets_csv: Path
    links_json: Path
    truth_json: Path
    n_tickets: int
    n_groups: int
    n_grouped_tickets: int
    n_heldout_groups: int
    n_links: int
    n_heldout_links: int
    heldout_after: str


@dataclass
class _Ticket:
    opened: datetime
    sub: Subcategory
    issue: Issue
    family: str
    details: dict[str, str]
    group: int | None = None
    number: str = ""
    row: dict[str, str] = field(default_factory=dict)
    templates: tuple[str, ...] = ()


def _atomic_write(path: Path, text: str) -> None:
    """Write via a temp file in the same folder and rename: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _details(rng: random.Random) -> dict[str, str]:
    """The salient facts of one incident: where, which device, which error."""
    d = {"site": rng.choice(SITES)}
    if rng.random() < 0.5:
        d["asset"] = f"{rng.choice(['LT', 'DT', 'WS', 'NB'])}-{rng.randint(10000, 99999)}"
    if rng.random() < 0.6:
        d["code"] = rng.choice([
            f"0x{rng.randint(0x80000000, 0x8FFFFFFF):08X}", str(rng.randint(100, 999)),
            f"E{rng.randint(1000, 9999)}", f"{rng.choice(['AADSTS', 'RC', 'KB', 'X'])}{rng.randint(10000, 99999)}",
        ])
    return d


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.4:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind < 0.7:
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]


def _noisy(text: str, family: str, rng: random.Random, typo_p: float) -> str:
    """Abbreviations of the ticket's family and a few typos, as people type."""
    for full, short in ABBREVIATIONS[family].items():
        if rng.random() < 0.5:
            text = re.sub(rf"\b{re.escape(full)}\b", short, text)
    if rng.random() < typo_p:
        words = text.split(" ")
        idx = [i for i, w in enumerate(words) if w.isalpha() and w.islower() and len(w) >= 5]
        for i in rng.sample(idx, min(len(idx), rng.randint(1, 2))):
            words[i] = _typo(words[i], rng)
        text = " ".join(words)
    return text


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def _render(t: _Ticket, rng: random.Random) -> None:
    """Write one ticket's texts from its family's templates and phrase pools."""
    fam = t.family
    ph = PHRASES[fam]
    systems = t.sub.systems_train if fam == "train" else t.sub.systems_heldout
    symptoms = t.issue.train if fam == "train" else t.issue.heldout
    sym1, sym2 = (rng.sample(symptoms, 2) if len(symptoms) > 1 else (symptoms[0], symptoms[0]))
    mentioned = [k for k in t.details if rng.random() < 0.55]
    sentences = [
        _cap(rng.choice(ph[f"detail_{k}"]).format(**{k: t.details[k]})) + "." for k in mentioned
    ]
    detail_sentence = " ".join(sentences)
    short_id = rng.choice(sorted(SHORT_TEMPLATES[fam]))
    short_tpl = SHORT_TEMPLATES[fam][short_id]
    if "{detail}" in short_tpl and not mentioned:
        mentioned = [rng.choice(sorted(t.details))]
    detail = t.details[mentioned[0]] if mentioned else ""
    short = short_tpl.format(system=rng.choice(systems), symptom=sym1, detail=detail)
    desc_id = rng.choice(sorted(DESCRIPTION_TEMPLATES[fam]))
    desc = DESCRIPTION_TEMPLATES[fam][desc_id].format(
        system=rng.choice(systems), symptom=sym2, opener=rng.choice(ph["opener"]),
        when=rng.choice(ph["when"]), tried=_cap(rng.choice(ph["tried"])),
        impact=_cap(rng.choice(ph["impact"])), detail_sentence=detail_sentence,
    )
    desc = re.sub(r"\s+", " ", desc).replace(" .", ".").strip()
    desc = re.sub(r"(^|[.!?] )([a-z])", lambda m: m.group(1) + m.group(2).upper(), desc)
    short = _noisy(short, fam, rng, 0.12)
    desc = _noisy(desc, fam, rng, 0.2)
    if rng.random() < 0.2:
        short = short.lower()
    first, last = rng.choice(NAMES), rng.choice(SURNAMES)
    if rng.random() < 0.1:
        desc = f"received from: {first.lower()}.{last.lower()}@company.com\n{desc}"
    if rng.random() < 0.15:
        desc = f"{desc}\n\n{rng.choice(['Thanks', 'Regards', 'Thank you'])},\n{first}"
    if rng.random() < 0.05:
        desc = desc.replace(". ", "._x000D_\n", 2)
    t.templates = (short_id, desc_id)
    t.row = {"short_description": short, "description": desc}


def _status(opened: datetime, rng: random.Random) -> str:
    """Old tickets are mostly resolved or closed; the newest are often still open."""
    age = (END - opened).days
    if age < 14:
        return rng.choices(["New", "In Progress", "Resolved"], [0.35, 0.4, 0.25])[0]
    if age < 45:
        return rng.choices(["In Progress", "Resolved", "Closed"], [0.1, 0.6, 0.3])[0]
    return rng.choices(["In Progress", "Resolved", "Closed"], [0.01, 0.2, 0.79])[0]


def _related_pairs(tickets: list[_Ticket], rng: random.Random, cutoff: datetime) -> list[tuple[int, int]]:
    """Same system, different problem, within two days on one side of the cutoff: related."""
    order = sorted(range(len(tickets)), key=lambda i: tickets[i].opened)
    out: list[tuple[int, int]] = []
    target = max(3, len(tickets) // 40)
    for pos, i in enumerate(order):
        a = tickets[i]
        for j in order[pos + 1:pos + 40]:
            b = tickets[j]
            if b.opened - a.opened > timedelta(days=2):
                break
            if (a.sub is b.sub and a.issue is not b.issue and (a.opened > cutoff) == (b.opened > cutoff)
                    and (a.group is None or a.group != b.group)):
                out.append((i, j))
                break
    rng.shuffle(out)
    return sorted(out[:target])


def _distractor_pairs(
    tickets: list[_Ticket], rng: random.Random, cutoff: datetime, n: int
) -> list[tuple[int, int]]:
    """Look-alikes: a shared keyword, different categories, same period. Known non-duplicates."""
    by_kw: dict[str, list[int]] = {}
    for i, t in enumerate(tickets):
        text = f"{t.row['short_description']} {t.row['description']}".lower()
        for kw in DISTRACTOR_KEYWORDS:
            if re.search(rf"\b{kw}\b", text):
                by_kw.setdefault(kw, []).append(i)
    out: set[tuple[int, int]] = set()
    kws = sorted(k for k, v in by_kw.items() if len(v) > 1)
    tries = 0
    while kws and len(out) < n and tries < 50 * n:
        tries += 1
        i, j = rng.sample(by_kw[rng.choice(kws)], 2)
        a, b = tickets[i], tickets[j]
        if a.sub.category != b.sub.category and (a.opened > cutoff) == (b.opened > cutoff):
            out.add((min(i, j), max(i, j)))
    return sorted(out)


def generate_demo(
    out_dir: str | Path, n_tickets: int = 2000, seed: int = 0, heldout_fraction: float = 0.2
) -> DemoSummary:
    """Write ``tickets.csv``, ``links.json`` and ``truth.json`` for ``seed`` into ``out_dir``."""
    if n_tickets < 20:
        raise ValueError("n_tickets must be at least 20")
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError("heldout_fraction must be in (0, 1)")
    rng = random.Random(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    span = END - START
    cutoff = START + timedelta(days=round(span.days * (1 - heldout_fraction)))
    periods = {"train": (START, cutoff), "heldout": (cutoff, END)}
    issues = [(sub, issue) for sub in SUBCATEGORIES for issue in sub.issues]

    sizes: list[int] = []
    budget = round(n_tickets * GROUPED_SHARE)
    while True:
        size = rng.choices(GROUP_SIZES, GROUP_SIZE_WEIGHTS)[0]
        if sum(sizes) + size > budget:
            break
        sizes.append(size)
    n_heldout_groups = max(1, round(len(sizes) * heldout_fraction))
    heldout_idx = set(rng.sample(range(len(sizes)), n_heldout_groups))

    tickets: list[_Ticket] = []
    for g, size in enumerate(sizes):
        fam = "heldout" if g in heldout_idx else "train"
        lo, hi = periods[fam]
        room = (hi - lo - GROUP_WINDOW - timedelta(days=1)).total_seconds()
        t0 = lo + timedelta(days=1, seconds=rng.uniform(0, room))
        sub, issue = rng.choice(issues)
        details = _details(rng)
        for _ in range(size):
            opened = t0 + timedelta(seconds=rng.uniform(0, GROUP_WINDOW.total_seconds()))
            tickets.append(_Ticket(opened, sub, issue, fam, dict(details), group=g))
    while len(tickets) < n_tickets:
        opened = START + timedelta(seconds=rng.uniform(0, span.total_seconds() - 1))
        sub, issue = rng.choice(issues)
        fam = "heldout" if opened >= cutoff else "train"
        tickets.append(_Ticket(opened, sub, issue, fam, _details(rng)))
    for t in tickets:
        t.opened = t.opened.replace(microsecond=0)

    tickets.sort(key=lambda t: t.opened)
    number = 10000 + rng.randint(0, 5000)
    all_subs = list(SUBCATEGORIES)
    for t in tickets:
        number += rng.choice((1, 1, 1, 2, 3))
        t.number = f"INC{number:07d}"
        _render(t, rng)
        shown = t.sub if rng.random() > 0.03 else rng.choice(all_subs)  # a few mis-filed
        status = _status(t.opened, rng)
        notes = rng.choice(t.sub.resolutions) if status in ("Resolved", "Closed") else ""
        t.row = {
            "number": t.number, **t.row, "category": shown.category,
            "subcategory": shown.name, "assignment_group": shown.group, "status": status,
            "opened_at": t.opened.isoformat(), "resolution_notes": notes,
        }

    groups: dict[int, list[_Ticket]] = {}
    for t in tickets:
        if t.group is not None:
            groups.setdefault(t.group, []).append(t)
    ordered = sorted(groups.values(), key=lambda m: (m[0].opened, m[0].number))
    truth_groups: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    n_heldout_links = 0
    for k, members in enumerate(ordered, start=1):
        head = members[0]
        truth_groups.append({
            "id": f"G{k:04d}", "kind": "duplicate", "tickets": [m.number for m in members],
            "category": head.sub.category, "subcategory": head.sub.name, "issue": head.issue.key,
            "template_family": head.family,
            "templates": sorted({tid for m in members for tid in m.templates}),
        })
        for a, b in combinations(members, 2):
            if head.family == "heldout" or rng.random() < KNOWN_TRAIN_PAIR_SHARE:
                links.append({"a": a.number, "b": b.number, "label": 1, "kind": "duplicate"})
                n_heldout_links += head.family == "heldout"

    related = _related_pairs(tickets, rng, cutoff)
    for i, j in related:
        if rng.random() < 0.5:
            links.append({"a": tickets[i].number, "b": tickets[j].number, "label": 1, "kind": "related"})
    for i, j in _distractor_pairs(tickets, rng, cutoff, max(5, n_tickets // 100)):
        links.append({"a": tickets[i].number, "b": tickets[j].number, "label": 0, "kind": "duplicate"})

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(t.row for t in tickets)
    truth = {
        "seed": seed, "n_tickets": len(tickets), "heldout_fraction": heldout_fraction,
        "heldout_after": cutoff.isoformat(), "groups": truth_groups,
        "related": [[tickets[i].number, tickets[j].number] for i, j in related],
    }
    paths = {name: out / name for name in ("tickets.csv", "links.json", "truth.json")}
    _atomic_write(paths["tickets.csv"], buf.getvalue())
    _atomic_write(paths["links.json"], json.dumps(links, indent=1) + "\n")
    _atomic_write(paths["truth.json"], json.dumps(truth, indent=1) + "\n")
    return DemoSummary(
        out_dir=out, tickets_csv=paths["tickets.csv"], links_json=paths["links.json"],
        truth_json=paths["truth.json"], n_tickets=len(tickets), n_groups=len(truth_groups),
        n_grouped_tickets=sum(len(g["tickets"]) for g in truth_groups),
        n_heldout_groups=sum(g["template_family"] == "heldout" for g in truth_groups),
        n_links=len(links), n_heldout_links=n_heldout_links, heldout_after=cutoff.isoformat(),
    )
