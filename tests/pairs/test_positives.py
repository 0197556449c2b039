"""Positives: links (score threshold, transitive closure), category with keyword overlap, views,
caps, and the no-self-pair / no-duplicate rules."""

from __future__ import annotations

import pandas as pd
import pytest

from ticketsim.config import PositivesConfig
from ticketsim.pairs.positives import build_positives, finalise, negative_links, positive_links


def _t(rows: list[tuple[str, str, str, str]], desc: str = "") -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["id", "short_description", "category", "subcategory"])
    df["description"] = desc or df["short_description"] + " details here"
    df["text"] = df["short_description"] + ". " + df["description"]
    return df


TICKETS = _t([
    ("A", "vpn drops at home", "Net", "VPN"), ("B", "vpn disconnects at home", "Net", "VPN"),
    ("C", "vpn drops in office", "Net", "VPN"), ("D", "wifi slow in canteen", "Net", "VPN"),
    ("E", "printer jam floor two", "HW", "Printer"), ("F", "printer jam again", "HW", "Printer"),
    ("G", "toner empty", "HW", "Printer"),
])
IDS = set(TICKETS.id)
LINKS = pd.DataFrame({"a": ["A", "B", "E", "A"], "b": ["B", "C", "G", "D"],
                      "label": [1, 1, 1, 0], "score": [None, 0.4, 0.9, 0.95]})


def _only(**kw: object) -> PositivesConfig:
    base = {"links": False, "category": False, "views": "never"}
    base.update(kw)
    return PositivesConfig(**base)  # type: ignore[arg-type]


@pytest.mark.config_keys("pairs.positives.links", "pairs.positives.link_min_score")
def test_link_positives_and_score_threshold() -> None:
    pos = build_positives(TICKETS, positive_links(LINKS, _only()), IDS, _only(links=True), 0)
    assert sorted(zip(pos.anchor_id, pos.positive_id, strict=False)) == [("A", "B"), ("B", "C"), ("E", "G")]
    cfg = _only(links=True, link_min_score=0.5)
    pos = build_positives(TICKETS, positive_links(LINKS, cfg), IDS, cfg, 0)
    # B-C scores 0.4: out; A-D scores 0.95: in though labelled 0; A-B has no score: its label
    assert sorted(zip(pos.anchor_id, pos.positive_id, strict=False)) == [("A", "B"), ("A", "D"), ("E", "G")]
    assert negative_links(LINKS, cfg).empty and len(negative_links(LINKS, _only())) == 1
    assert build_positives(TICKETS, positive_links(LINKS, _only()), IDS, _only(), 0).empty


@pytest.mark.config_keys("pairs.positives.transitive")
def test_transitive_closure_inside_a_cluster() -> None:
    pl = positive_links(LINKS, _only())
    pos = build_positives(TICKETS, pl, IDS, _only(links=True, transitive=True), 0)
    assert ("A", "C") in set(zip(pos.anchor_id, pos.positive_id, strict=False))
    assert set(pos.source) == {"link", "link-transitive"}
    # a pair with an end outside the allowed tickets never appears
    pos = build_positives(TICKETS, pl, IDS - {"C"}, _only(links=True, transitive=True), 0)
    assert "C" not in set(pos.anchor_id) | set(pos.positive_id)


@pytest.mark.config_keys("pairs.positives.category", "pairs.positives.min_keyword_overlap",
                         "pairs.positives.overlap_field", "pairs.positives.stop_words")
def test_category_positives_need_keyword_overlap() -> None:
    cfg = _only(category=True, min_keyword_overlap=2)
    pairs = {frozenset(p) for p in zip(*build_positives(TICKETS, LINKS[:0], IDS, cfg, 0)[
        ["anchor_id", "positive_id"]].T.values, strict=False)}
    # A,B share vpn+home; A,C share vpn+drops; E,F share printer+jam; D and G share too little
    assert pairs == {frozenset("AB"), frozenset("AC"), frozenset("EF")}
    one = build_positives(TICKETS, LINKS[:0], IDS, _only(category=True, min_keyword_overlap=1), 0)
    assert {frozenset(p) for p in zip(one.anchor_id, one.positive_id, strict=False)} >= {frozenset("BC")}
    # stop words: with "vpn" a stop word, A-B share only "home" and A-C only "drops"
    stop = build_positives(TICKETS, LINKS[:0], IDS,
                           _only(category=True, min_keyword_overlap=2, stop_words=["vpn", "at"]), 0)
    assert {frozenset(p) for p in zip(stop.anchor_id, stop.positive_id, strict=False)} == {frozenset("EF")}
    # overlap on the description: the shared "details here" makes every pair overlap by 2
    desc = build_positives(TICKETS, LINKS[:0], IDS,
                           _only(category=True, min_keyword_overlap=2, overlap_field="description",
                                 stop_words=[]), 0)
    assert len(desc) > 3 and frozenset("DG") not in {frozenset(p) for p in
                                                    zip(desc.anchor_id, desc.positive_id, strict=False)}


@pytest.mark.config_keys("pairs.positives.max_per_anchor", "pairs.positives.max_per_category",
                         "pairs.positives.max_total", "pairs.seed")
def test_caps_per_anchor_category_and_total() -> None:
    big = _t([(f"T{i}", f"vpn drops again {i}", "Net", "VPN") for i in range(30)])
    ids = set(big.id)
    pos = build_positives(big, big[:0], ids, _only(category=True, max_per_anchor=2), 0)
    assert pos.groupby("anchor_id").size().max() <= 2
    capped = build_positives(big, big[:0], ids,
                             _only(category=True, max_per_anchor=5, max_per_category=10), 0)
    assert len(capped) == 10
    other = build_positives(big, big[:0], ids,
                            _only(category=True, max_per_anchor=5, max_per_category=10), 1)
    assert set(zip(capped.anchor_id, capped.positive_id, strict=False)) != set(zip(other.anchor_id, other.positive_id, strict=False))
    total = build_positives(big, big[:0], ids, _only(category=True, max_total=7), 0)
    assert len(total) == 7


@pytest.mark.config_keys("pairs.positives.views")
def test_views_for_links_only_data() -> None:
    nocat = TICKETS.assign(category="", subcategory="")
    auto = build_positives(nocat, LINKS[:0], IDS, PositivesConfig(), 0)
    assert set(auto.source) == {"view"} and len(auto) == len(TICKETS)
    assert (auto.anchor_id == auto.positive_id).all()
    assert build_positives(TICKETS, LINKS[:0], IDS, _only(views="auto"), 0).empty
    assert len(build_positives(TICKETS, LINKS[:0], IDS, _only(views="always"), 0)) == len(TICKETS)
    assert build_positives(nocat, LINKS[:0], IDS, _only(views="never"), 0).empty


def test_finalise_drops_self_pairs_and_duplicates_in_either_order() -> None:
    rows = [{"anchor_id": "A", "positive_id": "B", "anchor": "Printer jam.", "positive": "paper jam",
             "source": "link", "category": "", "score": 1.0},
            {"anchor_id": "B", "positive_id": "A", "anchor": "paper  jam", "positive": "printer jam",
             "source": "category", "category": "", "score": 1.0},
            {"anchor_id": "C", "positive_id": "D", "anchor": "same text", "positive": "Same text.",
             "source": "category", "category": "", "score": 1.0}]
    out = finalise(rows)
    assert out.source.tolist() == ["link"]


def test_negative_links_keep_columns_when_there_are_none() -> None:
    """Only positive links: the result is empty but still has a and b (was a KeyError)."""
    import pandas as pd

    from ticketsim.config import PositivesConfig
    from ticketsim.pairs.negatives.labelled import labelled_negatives
    from ticketsim.pairs.positives import negative_links

    links = pd.DataFrame({"a": ["1", "2"], "b": ["3", "4"], "label": [1, 1], "score": [None, None],
                          "kind": ["duplicate", "duplicate"]})
    neg = negative_links(links, PositivesConfig())
    assert neg.empty and {"a", "b"} <= set(neg.columns)
    assert labelled_negatives(neg, {"1", "2", "3", "4"}) == {}


def _many(n: int, cat: str, sub: str, word: str) -> list[tuple[str, str, str, str]]:
    # every ticket shares `word` with every other: each anchor has n-1 overlapping positives
    return [(f"{cat}{i:03d}", f"{word} problem number {i}", cat, sub) for i in range(n)]


def test_category_cap_spends_the_budget_on_new_anchors_first() -> None:
    # 40 tickets x 3 positives each = 120 candidate pairs; a cap of 40 keeps one positive of
    # every anchor (a random cap of 40 of 120 would miss ~30 % of the anchors)
    t = _t(_many(40, "Net", "VPN", "vpn"))
    cfg = _only(category=True, max_per_anchor=3, max_per_category=40)
    for seed in range(3):
        pos = build_positives(t, pd.DataFrame(columns=["a", "b"]), set(t.id), cfg, seed)
        assert len(pos) <= 40
        assert pos.anchor_id.nunique() >= 38  # finalise may drop a pair seen in both orders
        assert "_rank" not in pos.columns


def test_total_cap_lets_a_small_category_keep_its_pairs() -> None:
    # a big category (60 tickets, 180 pairs) and a small one (6 tickets, 18 pairs), total cap
    # 30: the categories take turns, so the small one keeps its anchors' best pairs
    t = _t(_many(60, "Net", "VPN", "vpn") + _many(6, "HW", "Printer", "printer"))
    cfg = _only(category=True, max_per_anchor=3, max_total=30)
    pos = build_positives(t, pd.DataFrame(columns=["a", "b"]), set(t.id), cfg, 0)
    assert len(pos) == 30
    small = pos[pos.category.str.startswith("HW")]
    # every small-category ticket's best positive is kept (5 pairs: one is two tickets' best)
    assert set(small.anchor_id) | set(small.positive_id) == {f"HW{i:03d}" for i in range(6)}
    assert len(small) >= 5
    # (a random cap would give the small category 30 x 18/198 = ~3 pairs)
    assert (~pos.category.str.startswith("HW")).sum() == 30 - len(small)
