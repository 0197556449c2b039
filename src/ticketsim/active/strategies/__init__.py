"""Selection strategies: which candidate pairs to ask a person about, one module each.

Every strategy takes a :class:`~ticketsim.active.candidates.CandidatePool` and returns
its ``n`` chosen pairs, best first, with a ``priority`` (higher: ask sooner) and a
``reason`` a person can read. ``build_strategy`` makes one from ``LabelConfig``.
"""

from __future__ import annotations

from ticketsim.active.strategies.base import Strategy, take
from ticketsim.active.strategies.disagreement import DisagreementStrategy
from ticketsim.active.strategies.diversity import DiversityStrategy
from ticketsim.active.strategies.random import RandomStrategy
from ticketsim.active.strategies.uncertainty import UncertaintyStrategy
from ticketsim.config import LabelConfig
from ticketsim.errors import ConfigError

STRATEGIES = ("uncertainty", "disagreement", "diversity", "random")


def build_strategy(cfg: LabelConfig, name: str | None = None) -> Strategy:
    """The strategy named ``name`` (default ``label.strategy``), configured from ``cfg``."""
    name = name or cfg.strategy
    if name == "uncertainty":
        return UncertaintyStrategy(seed=cfg.seed)
    if name == "disagreement":
        return DisagreementStrategy(seed=cfg.seed)
    if name == "diversity":
        return DiversityStrategy(clusters=cfg.clusters, seed=cfg.seed)
    if name == "random":
        return RandomStrategy(seed=cfg.seed)
    raise ConfigError(f"unknown strategy '{name}'", field="label.strategy",
                      hint=f"use one of {', '.join(STRATEGIES)}")


__all__ = ["STRATEGIES", "Strategy", "build_strategy", "take"]
