"""CoSENTLoss on scored pairs.

What: a pairwise ranking loss - every pair with a higher score must get a higher
cosine than every pair with a lower score in the batch.
When: links carry graded scores (duplicate 1.0, related 0.5, unrelated 0.0);
converges faster than CosineSimilarityLoss.
Needs: (sentence1, sentence2, score 0..1) pairs; ``losses.cosent.scale``.
"""

from __future__ import annotations

from typing import Any

from ticketsim.training.losses import LossRecipe, register


def _build(model: Any, cfg: Any) -> Any:
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss

    return CoSENTLoss(model, scale=cfg.losses.cosent.scale)


RECIPE = register(LossRecipe(
    name="cosent", st_class="CoSENTLoss", fmt=lambda cfg: ("scored", 1),
    build=_build, summary="scored pairs; pairwise ranking",
))
