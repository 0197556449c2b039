"""OnlineContrastiveLoss on labelled pairs.

What: ContrastiveLoss computed only on the hard pairs of each batch (positives
farther apart than the closest negative, negatives closer than the farthest
positive).
When: labelled duplicate / not-duplicate pairs for a duplicate classifier with a
threshold; usually better than plain ``contrastive``.
Needs: (sentence1, sentence2, label 0/1) pairs; shares ``losses.contrastive``.
"""

from __future__ import annotations

from typing import Any

from ticketsim.training.losses import LossRecipe, register
from ticketsim.training.losses._distance import siamese


def _build(model: Any, cfg: Any) -> Any:
    from sentence_transformers.sentence_transformer.losses import OnlineContrastiveLoss

    p = cfg.losses.contrastive
    return OnlineContrastiveLoss(model, distance_metric=siamese(p.distance_metric), margin=p.margin)


RECIPE = register(LossRecipe(
    name="online_contrastive", st_class="OnlineContrastiveLoss", fmt=lambda cfg: ("labelled", 1),
    build=_build, summary="labelled pairs; hard pairs of the batch only",
))
