"""TripletLoss with mined hard negatives.

What: distance(anchor, negative) must exceed distance(anchor, positive) by ``margin``.
When: you trust your mined hard negatives (BM25 / model mining with a margin
against false negatives) more than in-batch negatives, or batches must be small.
Needs: (anchor, positive, negative) triplets; ``losses.triplet`` sets margin,
distance and negatives per pair.
"""

from __future__ import annotations

from typing import Any

from ticketsim.training.losses import LossRecipe, register
from ticketsim.training.losses._distance import triplet


def _build(model: Any, cfg: Any) -> Any:
    from sentence_transformers.sentence_transformer.losses import TripletLoss

    p = cfg.losses.triplet
    return TripletLoss(model, distance_metric=triplet(p.distance_metric), triplet_margin=p.margin)


RECIPE = register(LossRecipe(
    name="triplet", st_class="TripletLoss",
    fmt=lambda cfg: ("triplet", cfg.losses.triplet.negatives),
    build=_build, summary="triplets with mined hard negatives; margin",
))
