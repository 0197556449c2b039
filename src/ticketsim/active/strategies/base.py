"""What every selection strategy shares: the ``Strategy`` protocol and the ranking helper.

Its own module so that the strategies and the registry in ``__init__`` do not import each other.
"""

from __future__ import annotations

from typing import Protocol

import pandas as pd

from ticketsim.active.candidates import CandidatePool


class Strategy(Protocol):
    """What every selection strategy does."""

    name: str

    def select(self, pool: CandidatePool, n: int) -> pd.DataFrame:
        """The ``n`` pairs to ask about, best first (columns of the pool + priority, reason)."""
        ...


def take(pairs: pd.DataFrame, priority: pd.Series, reasons: pd.Series, n: int,
         seed: int) -> pd.DataFrame:
    """The ``n`` highest-priority pairs; ties broken by a seeded shuffle, not by id order."""
    out = pairs.assign(priority=priority.to_numpy(), reason=reasons.to_numpy())
    out = out.sample(frac=1.0, random_state=seed) if len(out) else out
    return out.sort_values("priority", ascending=False, kind="stable").head(n).reset_index(drop=True)
