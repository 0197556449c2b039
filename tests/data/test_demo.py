"""The demo generator: deterministic, in the ingest layout, honest about its held-out period."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from ticketsim.data import demo_vocab
from ticketsim.data.demo import COLUMNS, DemoSummary, generate_demo

N = 300


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoSummary, list[dict], list, dict]:
    out = tmp_path_factory.mktemp("demo")
    summary = generate_demo(out, n_tickets=N, seed=7)
    with open(summary.tickets_csv, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    links = json.loads(summary.links_json.read_text(encoding="utf-8"))
    truth = json.loads(summary.truth_json.read_text(encoding="utf-8"))
    return summary, rows, links, truth


def _bytes(folder: Path) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in ("tickets.csv", "links.json", "truth.json")}


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    generate_demo(tmp_path / "a", n_tickets=N, seed=3)
    generate_demo(tmp_path / "b", n_tickets=N, seed=3)
    generate_demo(tmp_path / "c", n_tickets=N, seed=4)
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")
    assert _bytes(tmp_path / "a")["tickets.csv"] != _bytes(tmp_path / "c")["tickets.csv"]
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.endswith(".tmp")]


def test_columns_ids_and_summary(demo: tuple) -> None:
    summary, rows, links, truth = demo
    assert list(rows[0]) == COLUMNS
    ids = [r["number"] for r in rows]
    assert len(ids) == N == summary.n_tickets == truth["n_tickets"]
    assert len(set(ids)) == N and all(re.fullmatch(r"INC\d{7}", i) for i in ids)
    assert {r["status"] for r in rows} <= {"New", "In Progress", "Resolved", "Closed"}
    assert all(r["short_description"].strip() for r in rows)
    assert any(len(r["description"].split()) <= 8 for r in rows)
    assert any(len(r["description"].split()) >= 25 for r in rows)
    assert max(len(r["description"].split()) + len(r["short_description"].split()) for r in rows) < 100
    assert any("received from:" in r["description"] for r in rows)
    grouped = sum(len(g["tickets"]) for g in truth["groups"])
    assert 0.3 * N <= grouped <= 0.45 * N
    assert all(2 <= len(g["tickets"]) <= 5 for g in truth["groups"])


def test_at_least_15_categories_with_subcategories(demo: tuple) -> None:
    _, rows, _, _ = demo
    subs: dict[str, set[str]] = {}
    for r in rows:
        subs.setdefault(r["category"], set()).add(r["subcategory"])
    assert len(subs) >= 15
    declared: dict[str, set[str]] = {}
    for s in demo_vocab.SUBCATEGORIES:
        declared.setdefault(s.category, set()).add(s.name)
    assert len(declared) >= 15 and all(2 <= len(v) <= 5 for v in declared.values())


def test_links_are_a_partial_subset_of_truth(demo: tuple) -> None:
    _, rows, links, truth = demo
    ids = {r["number"] for r in rows}
    group_of = {t: g["id"] for g in truth["groups"] for t in g["tickets"]}
    related = {frozenset(p) for p in truth["related"]}
    true_pairs = sum(len(g["tickets"]) * (len(g["tickets"]) - 1) // 2 for g in truth["groups"])
    dup = [lk for lk in links if lk["label"] == 1 and lk["kind"] == "duplicate"]
    for lk in links:
        assert lk["a"] in ids and lk["b"] in ids and lk["a"] != lk["b"]
        assert lk["label"] in (0, 1) and lk["kind"] in ("duplicate", "related")
    for lk in dup:
        assert group_of.get(lk["a"]) is not None and group_of.get(lk["a"]) == group_of.get(lk["b"])
    for lk in links:
        if lk["label"] == 1 and lk["kind"] == "related":
            assert frozenset((lk["a"], lk["b"])) in related
        if lk["label"] == 0:
            assert group_of.get(lk["a"]) is None or group_of.get(lk["a"]) != group_of.get(lk["b"])
    assert 0 < len(dup) < true_pairs
    assert len({frozenset((lk["a"], lk["b"])) for lk in dup}) == len(dup)
    assert any(lk["label"] == 0 for lk in links)
    assert any(lk["kind"] == "related" for lk in links)


def test_groups_never_straddle_the_cutoff_and_heldout_has_queries(demo: tuple) -> None:
    _, rows, links, truth = demo
    opened = {r["number"]: r["opened_at"] for r in rows}
    cut = truth["heldout_after"]
    for g in truth["groups"]:
        after = {opened[t] >= cut for t in g["tickets"]}
        assert len(after) == 1, g["id"]
        assert g["template_family"] == ("heldout" if after.pop() else "train")
    heldout = {t for t, o in opened.items() if o >= cut}
    assert any(lk["a"] in heldout and lk["label"] == 1 for lk in links)
    assert cut > min(opened.values()) and cut < max(opened.values())


def test_heldout_templates_and_vocabulary_are_disjoint_from_training(demo: tuple) -> None:
    _, rows, _, truth = demo
    used = {fam: set() for fam in demo_vocab.FAMILIES}
    for g in truth["groups"]:
        used[g["template_family"]].update(g["templates"])
    assert used["train"] and used["heldout"] and not used["train"] & used["heldout"]
    train_ids = set(demo_vocab.SHORT_TEMPLATES["train"]) | set(demo_vocab.DESCRIPTION_TEMPLATES["train"])
    assert used["train"] <= train_ids and not used["heldout"] & train_ids
    assert not demo_vocab.family_phrases("train") & demo_vocab.family_phrases("heldout")
    assert demo_vocab.TRAIN_WORDS and demo_vocab.HELDOUT_WORDS
    assert not demo_vocab.TRAIN_WORDS & demo_vocab.HELDOUT_WORDS
    entities = {w for s in demo_vocab.SITES + demo_vocab.NAMES + demo_vocab.SURNAMES
                for w in re.findall(r"[a-z0-9]+", s.lower())}
    assert not entities & (demo_vocab.TRAIN_WORDS | demo_vocab.HELDOUT_WORDS)
    # and in the data: no training-family word in a held-out ticket, and vice versa
    cut = truth["heldout_after"]
    seen = {"train": set(), "heldout": set()}
    for r in rows:
        text = f"{r['short_description']} {r['description']}".lower()
        seen["heldout" if r["opened_at"] >= cut else "train"] |= set(re.findall(r"[a-z0-9]+", text))
    assert not seen["heldout"] & demo_vocab.TRAIN_WORDS
    assert not seen["train"] & demo_vocab.HELDOUT_WORDS


def test_distractors_share_keywords_across_categories(demo: tuple) -> None:
    _, rows, _, _ = demo
    cats = {r["category"] for r in rows
            if re.search(r"\bpassword\b", f"{r['short_description']} {r['description']}".lower())}
    assert len(cats) >= 3


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate_demo(tmp_path, n_tickets=5)
    with pytest.raises(ValueError):
        generate_demo(tmp_path, n_tickets=100, heldout_fraction=1.0)
