"""Which model an index embeds with: the champion's, else the fine-tuned one, else the base.

The index stage and ``ticketsim embed`` (Ray) both ask here, reading evaluate's champion
and the train stage's output through their owners' readers. Its own module so that the
query path (which imports :mod:`ticketsim.index.embed`) never loads the stages.
"""

from __future__ import annotations

from pathlib import Path

from ticketsim.config import Config
from ticketsim.evaluation import champion
from ticketsim.models import resolve_model
from ticketsim.rundir import RunDir
from ticketsim.training.stage import TrainOutput


def index_model(cfg: Config, run: RunDir) -> str:
    """The champion's model when evaluate named one (the base model when the fine-tuned one
    lost beyond the noise), else the fine-tuned model when training finished, else the
    resolved base model (a cold start with nothing trained)."""
    stored = (champion.load(run.path) or {}).get("model_path")
    if stored:  # relative to the run directory
        p = Path(stored)
        return str(p if p.is_absolute() else (run.path / p).resolve())
    trained = TrainOutput.find(run)
    if trained is not None and trained.model_dir is not None:
        return str(trained.model_dir)
    return resolve_model(cfg.train.base_model)
