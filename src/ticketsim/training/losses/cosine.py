"""CosineSimilarityLoss on scored pairs.

What: regresses the cosine of each pair onto its score (MSE or L1).
When: scored pairs and you want cosines that read as calibrated similarities; the
classic STS recipe. CoSENT usually ranks better.
Needs: (sentence1, sentence2, score 0..1) pairs; ``losses.cosine.loss_fct``.
"""

from __future__ import annotations

from typing import Any

from ticketsim.training.losses import LossRecipe, register


def _build(model: Any, cfg: Any) -> Any:
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss
    from torch import nn

    fct = nn.MSELoss() if cfg.losses.cosine.loss_fct == "mse" else nn.L1Loss()
    return CosineSimilarityLoss(model, loss_fct=fct)


RECIPE = register(LossRecipe(
    name="cosine", st_class="CosineSimilarityLoss", fmt=lambda cfg: ("scored", 1),
    build=_build, summary="scored pairs; cosine regression",
))
