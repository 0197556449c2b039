"""The losses table: every ``train.loss`` by name, the data it needs, when to pick it, how it is built.

One row per loss (as sentence-transformers documents its losses): the sentence-transformers
class, the dataset format it trains on (:mod:`ticketsim.formats`), its parameters under
``train.losses.<section>``, and when to pick it. docs/losses.md shows the same table.
The pairs stage asks :func:`required_format` which columns to write; the train stage
calls :func:`check_dataset` before loading a model, so an incompatible loss/data
combination fails in seconds, naming the format it needs.

sentence-transformers is imported inside the builders only: it takes seconds to import,
and the pairs stage needs the table without it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ticketsim.config import MatryoshkaParams, TrainConfig
from ticketsim.errors import TicketsimError
from ticketsim.formats import FORMAT_HELP, columns_for
from ticketsim.models import load_model

if TYPE_CHECKING:
    from torch import nn


@dataclasses.dataclass(frozen=True)
class LossRecipe:
    """One row of the table: a loss by name, the data it needs, and how to build it.

    ``in_batch_negatives`` losses treat every other positive in the batch as a
    negative, so the trainer uses the no-duplicates batch sampler for them.
    """

    name: str
    st_class: str
    needs: str
    params: str
    when: str
    fmt: Callable[[TrainConfig], tuple[str, int]]
    build: Callable[[Any, TrainConfig], nn.Module]
    in_batch_negatives: bool = False


def negatives_format(n: int) -> tuple[str, int]:
    """Format of an in-batch-negatives loss with ``n`` mined hard negatives per pair."""
    if n <= 0:
        return ("pair", 0)
    if n == 1:
        return ("triplet", 1)
    return ("ntuple", n)


def _siamese(name: str) -> Any:
    from sentence_transformers.sentence_transformer.losses import SiameseDistanceMetric as M

    return {"cosine": M.COSINE_DISTANCE, "euclidean": M.EUCLIDEAN, "manhattan": M.MANHATTAN}[name]


def _triplet_metric(name: str) -> Any:
    from sentence_transformers.sentence_transformer.losses import TripletDistanceMetric as M

    return {"cosine": M.COSINE, "euclidean": M.EUCLIDEAN, "manhattan": M.MANHATTAN}[name]


def _mnrl(model: Any, cfg: TrainConfig) -> nn.Module:
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    return MultipleNegativesRankingLoss(model, scale=cfg.losses.mnrl.scale)


def _cached_mnrl(model: Any, cfg: TrainConfig) -> nn.Module:
    from sentence_transformers.sentence_transformer.losses import (
        CachedMultipleNegativesRankingLoss,
    )

    p = cfg.losses.cached_mnrl
    return CachedMultipleNegativesRankingLoss(model, scale=p.scale, mini_batch_size=p.mini_batch_size)


def _guide(model: Any, cfg: TrainConfig, name: str) -> Any:
    """The frozen guide of a GIST loss; 'base' is the run's own base model (train.base_model)."""
    guide = load_model(str(cfg.base_model) if name == "base" else name, device=str(model.device),
                       cache=False)
    guide.max_seq_length = model.max_seq_length
    for param in guide.parameters():
        param.requires_grad_(False)
    return guide


def _gist(model: Any, cfg: TrainConfig) -> nn.Module:
    from sentence_transformers.sentence_transformer.losses import GISTEmbedLoss

    p = cfg.losses.gist
    return GISTEmbedLoss(model, _guide(model, cfg, p.guide_model), temperature=p.temperature,
                         margin_strategy=p.margin_strategy, margin=p.margin)


def _cached_gist(model: Any, cfg: TrainConfig) -> nn.Module:
    from sentence_transformers.sentence_transformer.losses import CachedGISTEmbedLoss

    p = cfg.losses.cached_gist
    return CachedGISTEmbedLoss(model, _guide(model, cfg, p.guide_model), temperature=p.temperature,
                               mini_batch_size=p.mini_batch_size,
                               margin_strategy=p.margin_strategy, margin=p.margin)


def _contrastive(model: Any, cfg: TrainConfig) -> nn.Module:
    from sentence_transformers.sentence_transformer.losses import ContrastiveLoss

    p = cfg.losses.contrastive
    return ContrastiveLoss(model, distance_metric=_siamese(p.distance_metric), margin=p.margin)


def _online_contrastive(model: Any, cfg: TrainConfig) -> nn.Module:
    from sentence_transformers.sentence_transformer.losses import OnlineContrastiveLoss

    p = cfg.losses.contrastive
    return OnlineContrastiveLoss(model, distance_metric=_siamese(p.distance_metric), margin=p.margin)


def _triplet(model: Any, cfg: TrainConfig) -> nn.Module:
    from sentence_transformers.sentence_transformer.losses import TripletLoss

    p = cfg.losses.triplet
    return TripletLoss(model, distance_metric=_triplet_metric(p.distance_metric),
                       triplet_margin=p.margin)


def _cosent(model: Any, cfg: TrainConfig) -> nn.Module:
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss

    return CoSENTLoss(model, scale=cfg.losses.cosent.scale)


def _cosine(model: Any, cfg: TrainConfig) -> nn.Module:
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss
    from torch import nn

    fct = nn.MSELoss() if cfg.losses.cosine.loss_fct == "mse" else nn.L1Loss()
    return CosineSimilarityLoss(model, loss_fct=fct)


_TABLE = (
    LossRecipe(
        "mnrl", "MultipleNegativesRankingLoss",
        needs="(anchor, positive) pairs; triplets / n-tuples with hard_negatives >= 1",
        params="losses.mnrl: scale, hard_negatives",
        when="the default: you only know which tickets belong together (links, same category). "
        "Every other positive in the batch is a negative; bigger batches give more of them.",
        fmt=lambda cfg: negatives_format(cfg.losses.mnrl.hard_negatives),
        build=_mnrl, in_batch_negatives=True),
    LossRecipe(
        "cached_mnrl", "CachedMultipleNegativesRankingLoss",
        needs="as mnrl",
        params="losses.cached_mnrl: scale, mini_batch_size, hard_negatives",
        when="MNRL with a batch larger than memory allows (GradCache): memory follows "
        "mini_batch_size, negatives follow batch_size; about 20 % slower per pair.",
        fmt=lambda cfg: negatives_format(cfg.losses.cached_mnrl.hard_negatives),
        build=_cached_mnrl, in_batch_negatives=True),
    LossRecipe(
        "gist", "GISTEmbedLoss",
        needs="as mnrl, plus a guide model",
        params="losses.gist: guide_model, temperature, margin_strategy, margin, hard_negatives",
        when="batches often hold unlinked true duplicates (same-category tickets): the frozen "
        "guide masks in-batch negatives it rates as close as the positive. One extra forward "
        "pass of the guide per batch.",
        fmt=lambda cfg: negatives_format(cfg.losses.gist.hard_negatives),
        build=_gist, in_batch_negatives=True),
    LossRecipe(
        "cached_gist", "CachedGISTEmbedLoss",
        needs="as gist",
        params="losses.cached_gist: as gist, plus mini_batch_size",
        when="gist with a batch larger than memory allows (GradCache): more in-batch "
        "negatives, the guide still masking the false ones.",
        fmt=lambda cfg: negatives_format(cfg.losses.cached_gist.hard_negatives),
        build=_cached_gist, in_batch_negatives=True),
    LossRecipe(
        "contrastive", "ContrastiveLoss",
        needs="(sentence1, sentence2, label 0/1) labelled pairs",
        params="losses.contrastive: margin, distance_metric",
        when="explicit 'not a duplicate' answers (active learning, rejected suggestions) and a "
        "distance you want to threshold; usually weaker than mnrl for ranking.",
        fmt=lambda cfg: ("labelled", 1), build=_contrastive),
    LossRecipe(
        "online_contrastive", "OnlineContrastiveLoss",
        needs="labelled pairs",
        params="shares losses.contrastive",
        when="as contrastive, but only the hard pairs of each batch count; usually better "
        "than contrastive.",
        fmt=lambda cfg: ("labelled", 1), build=_online_contrastive),
    LossRecipe(
        "triplet", "TripletLoss",
        needs="(anchor, positive, negative) triplets with mined negatives",
        params="losses.triplet: margin, distance_metric, negatives",
        when="you trust mined hard negatives (BM25 / model with a margin) more than in-batch "
        "ones, or batches must be small.",
        fmt=lambda cfg: ("triplet", cfg.losses.triplet.negatives), build=_triplet),
    LossRecipe(
        "cosent", "CoSENTLoss",
        needs="(sentence1, sentence2, score 0..1) scored pairs",
        params="losses.cosent: scale",
        when="graded links (duplicate 1.0, related 0.5, unrelated 0.0); ranks better and "
        "converges faster than cosine.",
        fmt=lambda cfg: ("scored", 1), build=_cosent),
    LossRecipe(
        "cosine", "CosineSimilarityLoss",
        needs="scored pairs",
        params="losses.cosine: loss_fct (mse, l1)",
        when="scored pairs where cosines should read as calibrated similarities (STS-style).",
        fmt=lambda cfg: ("scored", 1), build=_cosine),
)

LOSSES: dict[str, LossRecipe] = {r.name: r for r in _TABLE}


def get_recipe(name: str) -> LossRecipe:
    """The recipe registered under ``name`` (a clear error for an unknown one)."""
    if name not in LOSSES:
        raise TicketsimError(
            f"unknown loss '{name}'", field="train.loss",
            hint=f"pick one of {', '.join(sorted(LOSSES))} (docs/losses.md)",
        )
    return LOSSES[name]


def required_format(train_cfg: TrainConfig) -> tuple[str, int]:
    """(format name from :mod:`ticketsim.formats`, negatives needed per pair, 0 if none)."""
    fmt, n = get_recipe(train_cfg.loss).fmt(train_cfg)
    return fmt, int(n)


def check_dataset(train_cfg: TrainConfig, columns: list[str], file: str | None = None) -> None:
    """Fail early when a dataset's columns are not the format the configured loss needs."""
    fmt, n = required_format(train_cfg)
    want = columns_for(fmt, n if fmt == "ntuple" else 1)
    have = [c for c in columns if not c.startswith("__")]
    if have != want:
        raise TicketsimError(
            f"loss '{train_cfg.loss}' needs {FORMAT_HELP[fmt]} with columns {want}, "
            f"but the dataset has columns {have}",
            file=file, field="train.loss",
            hint="rerun `ticketsim pairs` with this config (it writes the loss's format), "
            "or pick a loss for this data (docs/losses.md)",
        )


def matryoshka(model: Any, loss: nn.Module, params: MatryoshkaParams) -> nn.Module:
    """Wrap ``loss`` in MatryoshkaLoss: the first d dimensions alone also work (a cheaper index).

    Needs whatever the wrapped loss needs; dims no larger than the model's dimension.
    """
    from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss

    dim = model.get_embedding_dimension()
    if dim is not None and max(params.dims) > dim:
        raise TicketsimError(
            f"matryoshka dims {params.dims} exceed the model's embedding dimension {dim}",
            field="train.losses.matryoshka.dims", hint=f"use sizes up to {dim}",
        )
    weights = params.weights or [1.0] * len(params.dims)
    if len(weights) != len(params.dims):
        raise TicketsimError(
            f"{len(weights)} matryoshka weights for {len(params.dims)} dims",
            field="train.losses.matryoshka.weights", hint="give one weight per size, or null",
        )
    return MatryoshkaLoss(model, loss, matryoshka_dims=list(params.dims), matryoshka_weights=weights)


def build_loss(model: Any, train_cfg: TrainConfig) -> nn.Module:
    """The configured loss for ``model``, wrapped in MatryoshkaLoss when dims are set."""
    loss = get_recipe(train_cfg.loss).build(model, train_cfg)
    if train_cfg.losses.matryoshka.dims:
        loss = matryoshka(model, loss, train_cfg.losses.matryoshka)
    return loss


def uses_in_batch_negatives(train_cfg: TrainConfig) -> bool:
    """Whether the configured loss takes its negatives from the batch (no-duplicates sampler)."""
    return get_recipe(train_cfg.loss).in_batch_negatives


__all__ = [
    "LOSSES", "LossRecipe", "build_loss", "check_dataset", "get_recipe", "matryoshka",
    "negatives_format", "required_format", "uses_in_batch_negatives",
]
