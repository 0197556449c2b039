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
    stage makes the downstream ones rerun without any forcing here. With too few
    held-out links (``evaluate.crossfit_min_queries``) the run cross-fits: pairs and train
    build the served model from all links, and evaluate trains and pools fold models
    (:mod:`ticketsim.evaluation.crossfit`).
    """
    from ticketsim.evaluation import crossfit

    results = []
    for name in stages or ORDER:
        if name == "pairs" and run.read_stamp("ingest") is not None:
            plan = crossfit.plan(cfg, run)
            if plan is not None:
                reporter.log(f"cross-fitting: {plan.why}")
                crossfit.save_plan(run, plan)
                cfg = crossfit.all_links(cfg)
        result = run_stage(name, cfg, run, force=force, reporter=reporter)
        results.append(result)
        if on_done:
            on_done(result)
    return results
