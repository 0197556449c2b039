"""Close the loop: fine-tune from the current fine-tuned model on the enlarged links.

``retrain`` copies the run's ``train/model`` to ``<target>/retrain/base-<fingerprint>``
(a stable folder: the train stage is about to replace ``train/model``), points
``train.base_model`` at it and runs ingest -> pairs -> train -> evaluate -> index in the
target run directory (the same one, or a new one). Ingest snapshots the links store,
whose digest changed with the new labels, so every stage after it reruns. In the new
run's evaluation the ``base`` system is therefore the *previous* fine-tuned model: the
report answers "did the new labels help?".
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ticketsim.config import Config
from ticketsim.errors import TicketsimError
from ticketsim.models import model_fingerprint
from ticketsim.pipeline import run_all
from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import RunDir, StageResult, atomic_write_json
from ticketsim.training.stage import TrainOutput

FOLDER = "retrain"


@dataclasses.dataclass
class RetrainResult:
    base_model: Path
    previous_fingerprint: str
    results: list[StageResult]
    config: Config
    """The config the stages ran with (``train.base_model`` = the copied model): save it."""


def retrain(cfg: Config, source: RunDir, target: RunDir | None = None, *,
            reporter: Reporter = NULL, on_done: Any = None,
            before_run: Callable[[Config], None] | None = None) -> RetrainResult:
    """Fine-tune ``source``'s model further on the current links store, into ``target``.

    ``before_run`` gets the effective config first (the CLI saves it as the run's config).
    """
    target = target or source
    prev = TrainOutput.read(source, "retrain").model_dir
    if prev is None:
        raise TicketsimError(f"{source.path}: the train stage kept a LoRA adapter without a merged "
                             "model", hint="set train.lora.merge: true and train again")
    fp = model_fingerprint(prev)
    base = target.path / FOLDER / f"base-{fp}"
    if not base.is_dir():
        tmp = base.with_name(f".{base.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(prev, tmp)
        tmp.replace(base)
    reporter.log(f"retrain: continuing from {prev} (weights {fp}), copied to {base}")
    cfg = cfg.model_copy(deep=True)
    cfg.train.base_model = str(base)
    if before_run is not None:
        before_run(cfg)
    results = run_all(cfg, target, reporter=reporter, on_done=on_done)
    history_path = target.path / FOLDER / "history.json"
    history = json.loads(history_path.read_text()) if history_path.is_file() else []
    history.append({"at": time.time(), "source": str(source.path), "base_model": str(base),
                    "previous_fingerprint": fp,
                    "links": (results[0].summary.get("links") or {}).get("in_snapshot")})
    atomic_write_json(history_path, history)
    return RetrainResult(base, fp, results, cfg)
