"""Simple augmentation: random word drop and local shuffle (the baseline).

Pick it first: free, offline, and it teaches robustness to the terse, reordered way
people write tickets. Needs nothing. Each word is dropped with probability ``drop``
(one word always survives) and words move at most ``shuffle_window - 1`` places.
"""

from __future__ import annotations

import numpy as np

from ticketsim.config import SimpleAugmentConfig


class SimpleAugmenter:
    name = "simple"

    def __init__(self, cfg: SimpleAugmentConfig, seed: int = 0) -> None:
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)

    def one(self, text: str) -> str:
        words = text.split()
        if len(words) < 2:
            return text
        keep = [w for w in words if self.rng.random() >= self.cfg.drop] or [
            words[int(self.rng.integers(len(words)))]]
        if self.cfg.shuffle_window > 1:
            # sort by position plus noise in [0, window): each word moves less than window places
            keys = np.arange(len(keep)) + self.rng.random(len(keep)) * self.cfg.shuffle_window
            keep = [keep[i] for i in np.argsort(keys, kind="stable")]
        return " ".join(keep)

    def augment(self, texts: list[str]) -> list[str]:
        return [self.one(t) for t in texts]
