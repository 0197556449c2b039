"""Property tests (hypothesis): whatever the tickets and links, training data never holds a
self-pair, a duplicate pair, an evaluation ticket, or a negative from the anchor's category
or linked cluster when those exclusions are on."""

from __future__ import annotations

import tempfile

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketsim.config import config_from_dict
from ticketsim.pairs import splits
from ticketsim.pairs.positives import positive_links
from ticketsim.pairs.stage import build_split
from ticketsim.pairs.text import normalise
from ticketsim.progress import NULL
from ticketsim.rundir import RunDir

WORDS = ["vpn", "drops", "printer", "jam", "outlook", "password", "locked", "account", "slow",
         "wifi", "error", "install", "excel", "license", "screen", "black"]


@st.composite
def datasets(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = draw(st.integers(8, 40))
    rows = []
    for i in range(n):
        words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=5))
        cat = draw(st.sampled_from(["", "Net", "Mail", "HW"]))
        # some tickets share a text on purpose: self-pairs must still never appear
        text = " ".join(words)
        rows.append({"id": f"T{i:03d}", "short_description": text, "description": text + " x",
                     "text": f"{text}. {text} x", "category": cat,
                     "subcategory": draw(st.sampled_from(["", "a", "b"])) if cat else "",
                     "created": pd.Timestamp("2024-01-01") + pd.Timedelta(days=draw(st.integers(0, 99)))})
    tickets = pd.DataFrame(rows)
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1),
                                    st.sampled_from([0, 1, 1, 1])), max_size=2 * n))
    links = pd.DataFrame(
        [{"a": f"T{min(a, b):03d}", "b": f"T{max(a, b):03d}", "label": lab, "score": None}
         for a, b, lab in pairs if a != b], columns=["a", "b", "label", "score"]
    ).drop_duplicates(["a", "b"])
    return tickets, links


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=datasets(), method=st.sampled_from(["cluster", "time", "kfold"]),
       fmt=st.sampled_from(["pair", "triplet", "labelled"]),
       strategy=st.sampled_from(["bm25", "random"]), transitive=st.booleans(),
       augment=st.booleans())
def test_training_data_is_clean_and_leak_free(data, method, fmt, strategy, transitive, augment) -> None:  # type: ignore[no-untyped-def]
    tickets, links = data
    cfg = config_from_dict({"pairs": {
        "split": {"method": method, "test_fraction": 0.25, "validation_fraction": 0.15, "folds": 3},
        "positives": {"transitive": transitive, "views": "always", "min_keyword_overlap": 1},
        "negatives": {"strategy": strategy, "per_anchor": 2, "hardness_sample": 0, "margin": None},
        "augment": {"simple": {"rate": 0.5 if augment else 0.0}},
    }})
    pos = positive_links(links, cfg.pairs.positives)
    neg = links[links.label == 0]
    split = splits.split_tickets(tickets, pos, cfg.pairs.split)
    train_ids = set(split.id[split.split == "train"])
    held_out = set(split.id) - train_ids
    held_texts = {normalise(t) for t in tickets.set_index("id").loc[sorted(held_out), "text"]}
    with tempfile.TemporaryDirectory() as tmp:
        data_, side, _info = build_split(tickets, pos, neg, train_ids, cfg, RunDir(tmp), fmt, 2,
                                         train=True, reporter=NULL)
    if data_.empty:
        return
    # no evaluation ticket as anchor, positive or negative
    used = set(side.anchor_id) | set(side.positive_id) | {n for ns in side.negative_ids for n in ns}
    assert used <= train_ids
    train_texts = {normalise(t) for t in tickets.set_index("id").loc[sorted(train_ids), "text"]}
    only_held_out = held_texts - train_texts
    for c in data_.columns:
        if c not in ("anchor", "sentence1", "label", "score"):  # anchors may be augmented
            assert not {normalise(t) for t in data_[c]} & only_held_out
    # no self-pairs and no duplicates (either order) among positives
    a_col, p_col = ("sentence1", "sentence2") if fmt == "labelled" else ("anchor", "positive")
    positives = data_ if fmt != "labelled" else data_[data_.label == 1]
    keys = [frozenset((normalise(a), normalise(p))) for a, p in zip(positives[a_col], positives[p_col], strict=True)]
    assert all(len(k) == 2 for k in keys)
    if fmt != "triplet":  # triplets repeat a pair once per negative
        assert len(keys) == len(set(keys))
    else:
        per_pair = side.groupby(["anchor_id", "positive_id", "source"]).size()
        assert per_pair.max() <= 2
    # mined negatives: never the anchor's category, never its linked cluster
    cat = dict(zip(tickets.id, tickets.category, strict=True))
    labels = splits.link_clusters(tickets.id.tolist(), pos)
    comp = dict(zip(tickets.id, labels, strict=True))
    told_apart = {frozenset(p) for p in zip(neg.a, neg.b, strict=True)}  # label-0 links
    for rec in side.to_dict("records"):
        for n in rec["negative_ids"]:
            a = rec["anchor_id"]
            if frozenset((a, n)) in told_apart:
                continue
            if cat[a]:
                assert cat[n] != cat[a]
            assert comp[n] != comp[a]
