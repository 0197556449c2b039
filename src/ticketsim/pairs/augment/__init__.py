"""Augmenters: each adds rewritten copies of a share (``rate``) of the training pairs.

An augmenter rewrites anchor texts; the copy keeps the pair's positive and ticket ids,
so split safety and negative exclusion still hold. Augmentation touches the training
side only: validation pairs and held-out links are never augmented. One module per
augmenter (simple, wordnet, backtranslate, paraphrase), each with its own rate; one
``pairs.augment.seed`` seeds them all (a separate stream per augmenter).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from ticketsim.config import AugmentConfig
from ticketsim.pairs.augment.backtranslate import BackTranslateAugmenter
from ticketsim.pairs.augment.paraphrase import ParaphraseAugmenter
from ticketsim.pairs.augment.simple import SimpleAugmenter
from ticketsim.pairs.augment.wordnet import WordnetAugmenter
from ticketsim.progress import NULL, Reporter

ORDER = ["simple", "wordnet", "backtranslate", "paraphrase"]


class Augmenter(Protocol):
    """Rewrites texts; same length list out as in."""

    name: str

    def augment(self, texts: list[str]) -> list[str]:
        ...


def build(name: str, cfg: AugmentConfig, cache_dir: Path | None, reporter: Reporter = NULL) -> Augmenter:
    """The configured augmenter ``name`` (each imports its heavy libraries itself, when used)."""
    if name == "simple":
        return SimpleAugmenter(cfg.simple, seed=cfg.seed)
    if name == "wordnet":
        return WordnetAugmenter(cfg.wordnet, seed=cfg.seed)
    if name == "backtranslate":
        return BackTranslateAugmenter(cfg.backtranslate, reporter=reporter)
    if name == "paraphrase":
        return ParaphraseAugmenter(cfg.paraphrase, cache_dir=cache_dir, reporter=reporter,
                                   seed=cfg.seed)
    raise KeyError(name)


def augment_pairs(
    pairs: pd.DataFrame, cfg: AugmentConfig, cache_dir: Path | None = None,
    reporter: Reporter = NULL,
) -> pd.DataFrame:
    """The augmented copies (source ``augment:<name>``) of a share of ``pairs``; not the originals."""
    out = []
    for i, name in enumerate(ORDER):
        sub = getattr(cfg, name)
        if sub.rate <= 0 or pairs.empty:
            continue
        rng = np.random.default_rng([cfg.seed, i])  # one seed, a stream per augmenter
        n = int(round(sub.rate * len(pairs)))
        if n == 0:
            continue
        pick = np.sort(rng.choice(len(pairs), n, replace=False))
        chosen = pairs.iloc[pick].copy()
        aug = build(name, cfg, cache_dir, reporter)
        reporter.log(f"pairs: augmenting {n} anchors with {name}")
        chosen["anchor"] = aug.augment(chosen["anchor"].astype(str).tolist())
        chosen["source"] = f"augment:{name}"
        out.append(chosen)
    if not out:
        return pairs.iloc[0:0].copy()
    return pd.concat(out, ignore_index=True)
