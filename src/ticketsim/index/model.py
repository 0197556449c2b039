"""Which model an index embeds with (the champion's, else the fine-tuned one, else the base),
and how it reads the tickets (``index.lead_weight`` auto: the champion's reading).

The index stage and ``ticketsim embed`` (Ray) both ask here, reading evaluate's champion
and the train stage's output through their owners' readers. Its own module so that the
query path (which imports :mod:`ticketsim.index.embed`) never loads the stages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ticketsim.config import Config, IndexConfig
from ticketsim.errors import TicketsimError
from ticketsim.evaluation import champion
from ticketsim.models import resolve_model
from ticketsim.rundir import RunDir
from ticketsim.training.stage import TrainOutput


def index_model(cfg: Config, run: RunDir, choice: str | None = None) -> str:
    """The champion's model when evaluate named one (the base model when the fine-tuned one
    lost beyond the noise), else the fine-tuned model when training finished, else the
    resolved base model (a cold start with nothing trained).

    ``choice`` (``index --model``) overrides that: ``finetuned`` (the train stage's model),
    ``base`` (``train.base_model``) or a model folder or name.
    """
    trained = TrainOutput.find(run)
    if choice == "finetuned":
        if trained is None or trained.model_dir is None:
            raise TicketsimError("there is no fine-tuned model to index: the train stage has not "
                                 "run", field="--model", hint="run `ticketsim train` first, or "
                                 "pass --model base or a model folder")
        return str(trained.model_dir)
    if choice == "base":
        return resolve_model(cfg.train.base_model)
    if choice:
        return resolve_model(choice)
    stored = champion.model_path(run.path)
    if stored:  # relative to the run directory
        p = Path(stored)
        return str(p if p.is_absolute() else (run.path / p).resolve())
    if trained is not None and trained.model_dir is not None:
        return str(trained.model_dir)
    return resolve_model(cfg.train.base_model)


def index_reading(cfg: Config, run: RunDir, choice: str | None = None) -> IndexConfig:
    """``cfg.index`` with ``lead_weight: auto`` resolved: the weight of evaluate's champion
    when the index embeds with the champion's model (``choice`` None), else 0 (no lead view;
    also before evaluate has run). A number in the config is used as it is."""
    icfg = cfg.index
    if icfg.lead_weight != "auto":
        return icfg
    rec: dict[str, Any] = (champion.load(run.path) or {}) if choice is None else {}
    return icfg.read_as(float(rec.get("lead_weight") or 0.0))
