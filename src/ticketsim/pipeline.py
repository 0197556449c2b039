"""Runs the stages in order over one run directory.

Each stage is a function ``(cfg, run, *, force, reporter) -> StageResult`` in its own
package; this module only sequences them, so ``ticketsim run`` and the single-stage
commands share one code path. Stage modules are imported lazily: importing
sentence-transformers costs seconds.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ticketsim.config import Config
from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import RunDir, StageResult

# stage name -> "module:function"; every function takes (cfg: Config, run, force=, reporter=).
STAGES: dict[str, str] = {
    "ingest": "ticketsim.data.stage:run_ingest",
    "pairs": "ticketsim.pairs.stage:run_pairs",
    "train": "ticketsim.training.stage:run_train",
    "evaluate": "ticketsim.evaluation.stage:run_evaluate",
    "index": "ticketsim.index.stage:run_index",
}
ORDER = list(STAGES)


def stage_function(name: str) -> Callable[..., StageResult]:
    module, func = STAGES[name].split(":")
    return getattr(importlib.import_module(module), func)


def run_stage(
    name: str, cfg: Config, run: RunDir, *, force: bool = False, reporter: Reporter = NULL
) -> StageResult:
    """Run one stage (skipped by the stage itself when its inputs are unchanged)."""
    return stage_function(name)(cfg, run, force=force, reporter=reporter)


def run_all(
    cfg: Config,
    run: RunDir,
    *,
    force: bool = False,
    reporter: Reporter = NULL,
    stages: list[str] | None = None,
    on_done: Callable[[StageResult], None] | None = None,
) -> list[StageResult]:
    """Run ``stages`` (default: all) in order.

    A stage's input hash includes its upstream stages' stamps, so a rerun upstream
    stage makes the downstream ones rerun without any forcing here.
    """
    results = []
    for name in stages or ORDER:
        if name == "train":
            _say_estimate(cfg, run, force, reporter)
        result = run_stage(name, cfg, run, force=force, reporter=reporter)
        results.append(result)
        if on_done:
            on_done(result)
    return results


def _say_estimate(cfg: Config, run: RunDir, force: bool, reporter: Reporter) -> None:
    """Before the long stages: how long they will take (a probe of a few seconds).

    Only when training will run (not when its inputs are unchanged) and its inputs exist.
    """
    from ticketsim.errors import TicketsimError
    from ticketsim.training.estimate import estimate_run
    from ticketsim.training.stage import STAGE, inputs_hash

    if not force and run.is_fresh(STAGE, inputs_hash(cfg, run)):
        return
    if not (run.stage_path("pairs") / "train.parquet").is_file():
        return
    try:
        est = estimate_run(cfg, run)
    except (TicketsimError, OSError, ValueError) as exc:  # the stage itself reports these
        reporter.log(f"estimate: not available ({exc})")
        return
    reporter.log(est.line())
