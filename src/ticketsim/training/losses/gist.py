"""GISTEmbedLoss: in-batch negatives filtered by a guide model.

What: like MNRL, but a frozen guide model scores every in-batch negative; those the
guide rates as close to the anchor as the positive are masked out instead of
pushed away.
When: batches often hold true duplicates that are not linked - same-category
tickets frequently are - so plain MNRL would teach the model to separate them.
Costs one extra forward pass of the guide per batch.
Needs: (anchor, positive) pairs (or triplets / n-tuples with ``hard_negatives``)
and a guide model (``losses.gist.guide_model``, default all-MiniLM-L6-v2).
"""

from __future__ import annotations

from typing import Any

from ticketsim.training.losses import LossRecipe, negatives_format, register


def _build(model: Any, cfg: Any) -> Any:
    from sentence_transformers.sentence_transformer.losses import GISTEmbedLoss

    from ticketsim.models import load_model

    p = cfg.losses.gist
    guide = load_model(p.guide_model, device=str(model.device), cache=False)
    guide.max_seq_length = model.max_seq_length
    for param in guide.parameters():
        param.requires_grad_(False)
    return GISTEmbedLoss(model, guide, temperature=p.temperature,
                         margin_strategy=p.margin_strategy, margin=p.margin)


RECIPE = register(LossRecipe(
    name="gist", st_class="GISTEmbedLoss",
    fmt=lambda cfg: negatives_format(cfg.losses.gist.hard_negatives),
    build=_build, in_batch_negatives=True,
    summary="positives only; guide model removes false in-batch negatives",
))
