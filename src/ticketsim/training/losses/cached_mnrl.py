"""CachedMultipleNegativesRankingLoss (GradCache).

What: the same objective as MNRL, but embeds the batch in mini-batches and caches
gradients, so a batch of 512 needs the memory of a batch of ``mini_batch_size``.
When: MNRL would profit from more in-batch negatives than memory allows (large
models, GPUs with little memory). About 20 % slower per example than MNRL.
Needs: (anchor, positive) pairs, or triplets / n-tuples with ``hard_negatives``.
"""

from __future__ import annotations

from typing import Any

from ticketsim.training.losses import LossRecipe, negatives_format, register


def _build(model: Any, cfg: Any) -> Any:
    from sentence_transformers.sentence_transformer.losses import (
        CachedMultipleNegativesRankingLoss,
    )

    p = cfg.losses.cached_mnrl
    return CachedMultipleNegativesRankingLoss(model, scale=p.scale, mini_batch_size=p.mini_batch_size)


RECIPE = register(LossRecipe(
    name="cached_mnrl", st_class="CachedMultipleNegativesRankingLoss",
    fmt=lambda cfg: negatives_format(cfg.losses.cached_mnrl.hard_negatives),
    build=_build, in_batch_negatives=True,
    summary="positives only; large batch in small memory",
))
