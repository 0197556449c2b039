"""Loss recipes by name: which sentence-transformers loss, which data format it needs.

Each recipe lives in its own module (what it does, when to pick it, what it needs) and
registers a :class:`LossRecipe` here. The pairs stage asks :func:`required_format` which
columns to write; the train stage calls :func:`check_dataset` before any training so an
incompatible loss/data combination fails in seconds, naming the format it needs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ticketsim.errors import TicketsimError
from ticketsim.formats import FORMAT_HELP, columns_for

if TYPE_CHECKING:
    from torch import nn

    from ticketsim.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class LossRecipe:
    """A loss by name: the data it needs and how to build it for a model.

    ``in_batch_negatives`` losses treat every other positive in the batch as a
    negative, so the trainer uses the no-duplicates batch sampler for them.
    """

    name: str
    st_class: str
    fmt: Callable[[TrainConfig], tuple[str, int]]
    build: Callable[[Any, TrainConfig], nn.Module]
    in_batch_negatives: bool = False
    summary: str = ""


LOSSES: dict[str, LossRecipe] = {}


def register(recipe: LossRecipe) -> LossRecipe:
    LOSSES[recipe.name] = recipe
    return recipe


def _load_all() -> None:
    # the recipe modules import nothing heavy at module level, so this stays cheap
    from ticketsim.training.losses import (  # noqa: F401
        cached_mnrl,
        contrastive,
        cosent,
        cosine,
        gist,
        mnrl,
        online_contrastive,
        triplet,
    )


def get_recipe(name: str) -> LossRecipe:
    """The recipe registered under ``name`` (a clear error for an unknown one)."""
    _load_all()
    if name not in LOSSES:
        raise TicketsimError(
            f"unknown loss '{name}'", field="train.loss",
            hint=f"pick one of {', '.join(sorted(LOSSES))} (docs/losses.md)",
        )
    return LOSSES[name]


def negatives_format(n: int) -> tuple[str, int]:
    """Format of an in-batch-negatives loss with ``n`` mined hard negatives per pair."""
    if n <= 0:
        return ("pair", 0)
    if n == 1:
        return ("triplet", 1)
    return ("ntuple", n)


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


def build_loss(model: Any, train_cfg: TrainConfig) -> nn.Module:
    """The configured loss for ``model``, wrapped in MatryoshkaLoss when dims are set."""
    loss = get_recipe(train_cfg.loss).build(model, train_cfg)
    mat = train_cfg.losses.matryoshka
    if mat.dims:
        from ticketsim.training.losses.matryoshka import wrap

        loss = wrap(model, loss, mat)
    return loss


def uses_in_batch_negatives(train_cfg: TrainConfig) -> bool:
    return get_recipe(train_cfg.loss).in_batch_negatives


__all__ = [
    "LOSSES", "LossRecipe", "build_loss", "check_dataset", "get_recipe", "negatives_format",
    "register", "required_format", "uses_in_batch_negatives",
]
