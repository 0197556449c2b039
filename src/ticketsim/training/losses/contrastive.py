"""ContrastiveLoss on labelled pairs.

What: pulls label-1 pairs together, pushes label-0 pairs at least ``margin`` apart.
When: you have explicit "not a duplicate" answers (active-learning labels, rejected
suggestions) and want the model to learn a distance you can threshold. Usually
weaker than MNRL for ranking; prefer ``online_contrastive``.
Needs: (sentence1, sentence2, label 0/1) pairs; ``losses.contrastive`` sets margin
and distance.
"""

from __future__ import annotations

from typing import Any

from ticketsim.training.losses import LossRecipe, register
from ticketsim.training.losses._distance import siamese


def _build(model: Any, cfg: Any) -> Any:
    from sentence_transformers.sentence_transformer.losses import ContrastiveLoss

    p = cfg.losses.contrastive
    return ContrastiveLoss(model, distance_metric=siamese(p.distance_metric), margin=p.margin)


RECIPE = register(LossRecipe(
    name="contrastive", st_class="ContrastiveLoss", fmt=lambda cfg: ("labelled", 1),
    build=_build, summary="labelled pairs; margin",
))
