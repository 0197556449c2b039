"""Selection strategies: which candidate pairs to ask a person about, one module each.

Every strategy takes a :class:`~ticketsim.active.candidates.CandidatePool` and returns
its ``n`` chosen pairs, best first, with a ``priority`` (higher: ask sooner) and a
``reason`` a person can read. ``build_strategy`` makes one from ``LabelConfig``.
"""

from __future__ import annotations

from typing import Protocol

import pandas as pd

from ticketsim.active.candidates import CandidatePool
from ticketsim.config import LabelConfig
from ticketsim.errors import ConfigError


class Strategy(Protocol):
    """What every selection strategy does."""

    name: str

    def select(self, pool: CandidatePool, n: int) -> pd.DataFrame:
        """The ``n`` pairs to ask about, best first (columns of the pool + priority, reason)."""
        ...


STRATEGIES = ("uncertainty", "disagreement", "diversity", "random")


def build_strategy(cfg: LabelConfig, name: str | None = None) -> Strategy:
    """The strategy named ``name`` (default ``label.strategy``), configured from ``cfg``."""
    name = name or cfg.strategy
    if name == "uncertainty":
        from ticketsim.active.strategies.uncertainty import UncertaintyStrategy

        return UncertaintyStrategy(seed=cfg.seed)
    if name == "disagreement":
        from ticketsim.active.strategies.disagreement import DisagreementStrategy

        return DisagreementStrategy(seed=cfg.seed)
    if name == "diversity":
        from ticketsim.active.strategies.diversity import DiversityStrategy

        return DiversityStrategy(clusters=cfg.clusters, seed=cfg.seed)
    if name == "random":
        from ticketsim.active.strategies.random import RandomStrategy

        return RandomStrategy(seed=cfg.seed)
    raise ConfigError(f"unknown strategy '{name}'", field="label.strategy",
                      hint=f"use one of {', '.join(STRATEGIES)}")


def take(pairs: pd.DataFrame, priority: pd.Series, reasons: pd.Series, n: int,
         seed: int) -> pd.DataFrame:
    """The ``n`` highest-priority pairs; ties broken by a seeded shuffle, not by id order."""
    out = pairs.assign(priority=priority.to_numpy(), reason=reasons.to_numpy())
    out = out.sample(frac=1.0, random_state=seed) if len(out) else out
    return out.sort_values("priority", ascending=False, kind="stable").head(n).reset_index(drop=True)
