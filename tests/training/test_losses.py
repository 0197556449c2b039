"""Each loss: its parameters reach the loss object, and a few steps on the tiny model lower it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from training_helpers import built_trainer, tiny_cfg

from ticketsim.training.losses import LOSSES, build_loss, get_recipe, required_format

# loss name -> data format the helper writes
FORMATS = {"mnrl": "pair", "cached_mnrl": "pair", "gist": "pair", "cached_gist": "pair",
           "contrastive": "labelled",
           "online_contrastive": "labelled", "triplet": "triplet", "cosent": "scored",
           "cosine": "scored"}


def _fixed_batch_loss(trainer: Any, model: Any, batches: list[dict[str, Any]]) -> float:
    model.eval()
    with torch.no_grad():
        value = sum(float(trainer.compute_loss(model, b)) for b in batches)
    model.train()
    return value


@pytest.mark.parametrize("loss", list(FORMATS))
def test_each_loss_goes_down(loss: str, tmp_path: Path, tiny_model_dir: Path) -> None:
    extra: dict[str, Any] = {}
    if loss == "gist":
        extra = {"losses": {"gist": {"guide_model": str(tiny_model_dir)}}}
    if loss == "cached_mnrl":
        extra = {"losses": {"cached_mnrl": {"mini_batch_size": 4}}}
    if loss == "cached_gist":  # the guide is the run's base model
        extra = {"losses": {"cached_gist": {"guide_model": "base", "mini_batch_size": 4}}}
    trainer, model, _ = built_trainer(
        tmp_path, tiny_model_dir, fmt=FORMATS[loss], evaluator=False, loss=loss, max_steps=6,
        learning_rate=3e-3, warmup_steps=0, batch_size=8, save_steps=1000, **extra)
    batches = [trainer._prepare_inputs(b) for b in trainer.get_train_dataloader()][:4]
    before = _fixed_batch_loss(trainer, model, batches)
    trainer.train()
    after = _fixed_batch_loss(trainer, model, batches)
    assert after < before, f"{loss}: {before:.4f} -> {after:.4f}"


def test_registry_covers_the_config_literal() -> None:
    from typing import get_args

    from ticketsim.config import TrainConfig

    get_recipe("mnrl")
    assert set(get_args(TrainConfig.model_fields["loss"].annotation)) == set(LOSSES)


@pytest.mark.config_keys("train.loss", "train.losses.mnrl.hard_negatives",
                         "train.losses.cached_mnrl.hard_negatives",
                         "train.losses.gist.hard_negatives", "train.losses.triplet.negatives",
                         "train.losses.cached_gist.hard_negatives")
def test_required_format() -> None:
    from ticketsim.config import config_from_dict

    def fmt(**train: Any) -> tuple[str, int]:
        return required_format(config_from_dict({"train": train}).train)

    assert fmt() == ("pair", 0)
    assert fmt(losses={"mnrl": {"hard_negatives": 1}}) == ("triplet", 1)
    assert fmt(losses={"mnrl": {"hard_negatives": 3}}) == ("ntuple", 3)
    assert fmt(loss="cached_mnrl", losses={"cached_mnrl": {"hard_negatives": 2}}) == ("ntuple", 2)
    assert fmt(loss="gist", losses={"gist": {"hard_negatives": 1}}) == ("triplet", 1)
    assert fmt(loss="cached_gist", losses={"cached_gist": {"hard_negatives": 2}}) == ("ntuple", 2)
    assert fmt(loss="triplet", losses={"triplet": {"negatives": 2}}) == ("triplet", 2)
    assert fmt(loss="contrastive") == ("labelled", 1)
    assert fmt(loss="online_contrastive") == ("labelled", 1)
    assert fmt(loss="cosent") == ("scored", 1)
    assert fmt(loss="cosine") == ("scored", 1)


def _loss(model_dir: Path, **train: Any) -> Any:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    return build_loss(model, tiny_cfg(model_dir, **train).train)


@pytest.mark.config_keys(
    "train.losses.mnrl.scale", "train.losses.cached_mnrl.scale",
    "train.losses.cached_mnrl.mini_batch_size", "train.losses.gist.guide_model",
    "train.losses.gist.temperature", "train.losses.gist.margin_strategy",
    "train.losses.gist.margin", "train.losses.contrastive.margin",
    "train.losses.contrastive.distance_metric", "train.losses.triplet.margin",
    "train.losses.triplet.distance_metric", "train.losses.cosent.scale",
    "train.losses.cosine.loss_fct", "train.losses.matryoshka.dims",
    "train.losses.matryoshka.weights", "train.losses.cached_gist.guide_model",
    "train.losses.cached_gist.temperature", "train.losses.cached_gist.margin_strategy",
    "train.losses.cached_gist.margin", "train.losses.cached_gist.mini_batch_size",
)
def test_loss_parameters_reach_the_loss(tiny_model_dir: Path) -> None:
    from sentence_transformers.sentence_transformer.losses import (
        SiameseDistanceMetric,
        TripletDistanceMetric,
    )

    d = tiny_model_dir
    assert _loss(d, losses={"mnrl": {"scale": 33.0}}).scale == 33.0
    c = _loss(d, loss="cached_mnrl", losses={"cached_mnrl": {"scale": 11.0, "mini_batch_size": 5}})
    assert (c.scale, c.mini_batch_size) == (11.0, 5)
    g = _loss(d, loss="gist", losses={"gist": {"guide_model": str(d), "temperature": 0.05,
                                               "margin_strategy": "relative", "margin": 0.1}})
    assert (g.temperature, g.margin_strategy, g.margin) == (0.05, "relative", 0.1)
    assert g.guide is not g.model and not any(p.requires_grad for p in g.guide.parameters())
    cg = _loss(d, loss="cached_gist", losses={"cached_gist": {
        "guide_model": "base", "temperature": 0.02, "margin_strategy": "relative", "margin": 0.2,
        "mini_batch_size": 3}})
    assert type(cg).__name__ == "CachedGISTEmbedLoss"
    assert (cg.temperature, cg.margin_strategy, cg.margin, cg.mini_batch_size) == (
        0.02, "relative", 0.2, 3)
    # 'base': the guide is a frozen copy of train.base_model (the tiny model here)
    assert cg.guide is not cg.model and not any(p.requires_grad for p in cg.guide.parameters())
    assert all(torch.equal(a, b) for a, b in zip(cg.guide.state_dict().values(),
                                                 cg.model.state_dict().values(), strict=True))
    for name in ("contrastive", "online_contrastive"):
        lo = _loss(d, loss=name, losses={"contrastive": {"margin": 0.7,
                                                         "distance_metric": "euclidean"}})
        assert lo.margin == 0.7 and lo.distance_metric is SiameseDistanceMetric.EUCLIDEAN
    t = _loss(d, loss="triplet", losses={"triplet": {"margin": 1.5, "distance_metric": "manhattan"}})
    assert t.triplet_margin == 1.5 and t.distance_metric is TripletDistanceMetric.MANHATTAN
    assert _loss(d, loss="cosent", losses={"cosent": {"scale": 7.0}}).scale == 7.0
    assert isinstance(_loss(d, loss="cosine", losses={"cosine": {"loss_fct": "l1"}}).loss_fct,
                      torch.nn.L1Loss)
    m = _loss(d, losses={"matryoshka": {"dims": [16, 32, 8], "weights": [1.0, 0.5, 0.25]}})
    assert type(m).__name__ == "MatryoshkaLoss"
    assert list(m.matryoshka_dims) == [32, 16, 8] and list(m.matryoshka_weights) == [1.0, 0.5, 0.25]
    assert type(m.loss).__name__ == "MultipleNegativesRankingLoss"


def test_matryoshka_dims_larger_than_the_model_fail(tiny_model_dir: Path) -> None:
    from ticketsim.errors import TicketsimError

    with pytest.raises(TicketsimError, match="exceed the model's embedding dimension 32"):
        _loss(tiny_model_dir, losses={"matryoshka": {"dims": [64, 16]}})


def test_docs_table_names_every_loss_with_its_class() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "losses.md").read_text()
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip()
            for line in doc.splitlines() if line.startswith("| `")}
    documented = {name.split("`")[1]: cls for name, cls in rows.items()
                  if "matryoshka" not in name and cls.endswith("Loss")}
    assert documented == {r.name: r.st_class for r in LOSSES.values()}
