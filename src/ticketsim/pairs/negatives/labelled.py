"""Labelled negatives: links the desk marked "not a duplicate" (label 0).

Always worth using when present: a person already decided these two tickets look
alike but are different, the hardest and most trustworthy negatives there are.
Needs label-0 rows in the links file or store.
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd


def labelled_negatives(negative_links: pd.DataFrame, allowed: set[str]) -> dict[str, list[str]]:
    """Anchor id -> its label-0 partners, both ends inside ``allowed``."""
    out: dict[str, list[str]] = defaultdict(list)
    for a, b in zip(negative_links["a"].astype(str), negative_links["b"].astype(str), strict=True):
        if a in allowed and b in allowed:
            out[a].append(b)
            out[b].append(a)
    return dict(out)
