"""Category positives from any subset of the category fields (issue 17, point 1).

An export may map only a category, only a subcategory, or both. Whatever it maps, two
tickets that share every mapped value and a keyword are positive candidates, no pair ever
crosses two groups, and an unmapped (absent or all-empty) field changes nothing.
"""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketsim.config import PositivesConfig
from ticketsim.pairs.positives import category_keys, category_pairs, wants_views

WORDS = ["vpn", "drops", "printer", "jam", "outlook", "password", "locked", "account"]


@st.composite
def exports(draw: st.DrawFn) -> tuple[pd.DataFrame, str]:
    """Tickets plus how the category fields appear: 'column' (values), 'empty' or 'absent'."""
    n = draw(st.integers(2, 30))
    shapes = {f: draw(st.sampled_from(["column", "empty", "absent"]))
              for f in ("category", "subcategory")}
    rows = []
    for i in range(n):
        text = " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3)))
        row = {"id": f"T{i:03d}", "short_description": text, "description": text,
               "text": text}
        for f, shape in shapes.items():
            if shape == "column":
                row[f] = draw(st.sampled_from(["A", "B", None]))
            elif shape == "empty":
                row[f] = None
        rows.append(row)
    return pd.DataFrame(rows), ",".join(f"{f}={s}" for f, s in shapes.items())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=exports())
def test_category_positives_from_any_subset_of_the_fields(data: tuple[pd.DataFrame, str]) -> None:
    tickets, shape = data
    cfg = PositivesConfig(max_per_anchor=50)
    allowed = set(tickets["id"])
    pairs = category_pairs(tickets, allowed, cfg, seed=0)
    key = dict(zip(tickets["id"], category_keys(tickets), strict=True))
    # no pair crosses two groups or involves a ticket without any category value
    for p in pairs:
        assert key[p["anchor_id"]] == key[p["positive_id"]] != "", shape
    # every group of two or more tickets sharing a keyword yields at least one pair
    kw = {r.id: set(r.short_description.split()) for r in tickets.itertuples()}
    groups: dict[str, list[str]] = {}
    for tid, k in key.items():
        if k:
            groups.setdefault(k, []).append(tid)
    for k, ids in groups.items():
        sharing = any(kw[a] & kw[b] for i, a in enumerate(ids) for b in ids[i + 1:])
        got = [p for p in pairs if key[p["anchor_id"]] == k]
        assert bool(got) == sharing, (shape, k)
    # an all-empty column is the same as an absent one
    for f in ("category", "subcategory"):
        if f in tickets.columns and tickets[f].isna().all():
            assert category_pairs(tickets.drop(columns=[f]), allowed, cfg, seed=0) == pairs
    # views (auto) switch on exactly when no ticket has any category value
    assert wants_views(tickets, PositivesConfig()) == (not any(key.values()))


def test_category_only_and_subcategory_only_keys_match_within_a_group() -> None:
    both = pd.DataFrame({"category": ["Net", "Net", "Mail"], "subcategory": [None, None, None]})
    assert list(category_keys(both)) == ["Net", "Net", "Mail"]
    sub_only = pd.DataFrame({"subcategory": ["vpn", "vpn", ""]})
    assert list(category_keys(sub_only)) == ["vpn", "vpn", ""]
    full = pd.DataFrame({"category": ["Net", "Net"], "subcategory": ["vpn", "wifi"]})
    assert list(category_keys(full)) == ["Net/vpn", "Net/wifi"]
