"""Splits: cluster, time and k-fold; held-out links with the held-out end as ``a``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ticketsim.config import SplitConfig
from ticketsim.errors import TicketsimError
from ticketsim.pairs.splits import held_out_links, link_clusters, split_tickets


def _tickets(n: int = 100) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"T{i:03d}" for i in range(n)],
                         "created": pd.date_range("2024-01-01", periods=n, freq="D")})


def _links(n: int = 100) -> pd.DataFrame:
    # clusters of 3 linked tickets: (0,1,2), (10,11,12), ...
    rows = [(f"T{i:03d}", f"T{i + 1:03d}") for s in range(0, n - 2, 10) for i in (s, s + 1)]
    return pd.DataFrame(rows, columns=["a", "b"]).assign(label=1)


@pytest.mark.config_keys("pairs.split.method", "pairs.split.test_fraction",
                         "pairs.split.validation_fraction")
def test_time_split_holds_out_the_newest_tickets() -> None:
    t = _tickets()
    s = split_tickets(t, _links(), SplitConfig(method="time", test_fraction=0.2,
                                               validation_fraction=0.1))
    assert s.split.tolist() == ["train"] * 70 + ["validation"] * 10 + ["test"] * 20
    s = split_tickets(t, _links(), SplitConfig(method="time", test_fraction=0.3,
                                               validation_fraction=0.0))
    assert (s.split == "test").sum() == 30 and (s.split == "validation").sum() == 0
    with pytest.raises(TicketsimError, match="creation dates"):
        split_tickets(t.assign(created=pd.NaT), _links(), SplitConfig(method="time"))


@pytest.mark.config_keys("pairs.split.seed")
def test_cluster_split_keeps_clusters_whole_and_depends_on_seed() -> None:
    t, links = _tickets(), _links()
    s1 = split_tickets(t, links, SplitConfig(method="cluster", seed=1))
    s2 = split_tickets(t, links, SplitConfig(method="cluster", seed=2))
    labels = link_clusters(t.id.tolist(), links)
    for split in (s1, s2):
        for c in np.unique(labels):
            assert split.split[labels == c].nunique() == 1
        assert 15 <= (split.split == "test").sum() <= 25
    assert s1.split.tolist() != s2.split.tolist()
    assert "fold" not in s1.columns


@pytest.mark.config_keys("pairs.split.folds", "pairs.split.fold")
def test_kfold_deals_clusters_into_folds_and_tests_on_one() -> None:
    t, links = _tickets(), _links()
    labels = link_clusters(t.id.tolist(), links)
    seen_test: set[str] = set()
    for fold in range(4):
        s = split_tickets(t, links, SplitConfig(method="kfold", folds=4, fold=fold,
                                                validation_fraction=0.1))
        assert set(s.fold) == {0, 1, 2, 3}
        assert (s.split[s.fold == fold] == "test").all()
        assert not (s.split[s.fold != fold] == "test").any()
        for c in np.unique(labels):
            assert s.fold[labels == c].nunique() == 1
        linked_per_fold = [int(((labels[s.fold == f][:, None] == labels).sum(1) > 1).sum())
                           for f in range(4)]
        assert max(linked_per_fold) - min(linked_per_fold) <= 3
        test = set(s.id[s.split == "test"])
        assert not test & seen_test
        seen_test |= test
    assert seen_test == set(t.id)  # every ticket is tested exactly once over the folds
    with pytest.raises(TicketsimError, match="out of range"):
        split_tickets(t, links, SplitConfig(method="kfold", folds=3, fold=3))


def test_held_out_links_put_the_held_out_end_first() -> None:
    links = pd.DataFrame({"a": ["A", "C", "E"], "b": ["B", "D", "F"], "label": 1})
    split = pd.DataFrame({"id": list("ABCDEF"),
                          "split": ["train", "test", "test", "test", "train", "validation"]})
    tl = held_out_links(links, split, "test")
    assert tl[["a", "b"]].values.tolist() == [["B", "A"], ["C", "D"]]
    vl = held_out_links(links, split, "validation")
    assert vl[["a", "b"]].values.tolist() == [["F", "E"]]
