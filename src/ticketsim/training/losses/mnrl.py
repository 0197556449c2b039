"""MultipleNegativesRankingLoss (the default).

What: for each (anchor, positive), every other positive in the batch (and any mined
hard negatives) is a negative; a softmax over scaled cosine similarities.
When: you only know which tickets belong together (links, same category) - the
usual case. Bigger batches give more negatives; the no-duplicates batch sampler
keeps a text from appearing twice in a batch (it would be a false negative).
Needs: (anchor, positive) pairs; with ``losses.mnrl.hard_negatives`` > 0,
triplets or n-tuples.
"""

from __future__ import annotations

from typing import Any

from ticketsim.training.losses import LossRecipe, negatives_format, register


def _build(model: Any, cfg: Any) -> Any:
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    return MultipleNegativesRankingLoss(model, scale=cfg.losses.mnrl.scale)


RECIPE = register(LossRecipe(
    name="mnrl", st_class="MultipleNegativesRankingLoss",
    fmt=lambda cfg: negatives_format(cfg.losses.mnrl.hard_negatives),
    build=_build, in_batch_negatives=True,
    summary="positives only; in-batch negatives",
))
