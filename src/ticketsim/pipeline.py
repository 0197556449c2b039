"""Runs the stages in order over one run directory.

Each stage is a function ``(cfg, run, *, force, reporter) -> StageResult`` in its own
package, written with :meth:`ticketsim.rundir.RunDir.produce` (skip when unchanged, temp
folder, ``summary.json``, rename) and reading earlier stages through their typed readers;
adding a stage is writing that function and one line in :data:`STAGES` (docs/artifacts.md).
This module only sequences them, so ``ticketsim run`` and the single-stage commands share
one code path. Stage modules are imported lazily: importing sentence-transformers costs
seconds.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ticketsim.config import Config
from ticketsim.evaluation import crossfit
from ticketsim.memory import release_memory
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
# said before a stage of `run` starts: "module:function" taking (cfg, run, force=, reporter=)
BEFORE: dict[str, str] = {"train": "ticketsim.training.estimate:say_estimate"}


def stage_function(name: str) -> Callable[..., StageResult]:
    module, func = STAGES[name].split(":")
    return getattr(importlib.import_module(module), func)


def run_stage(
    name: str, cfg: Config, run: RunDir, *, force: bool = False, reporter: Reporter = NULL,
    **options: Any,
) -> StageResult:
    """Run one stage (skipped by the stage itself when its inputs are unchanged); ``options``
    are the stage's run-time arguments, never written to the config (train ``resume``,
    evaluate ``extra_models``, index ``model``). The heap a stage freed goes back to the
    system after it (:mod:`ticketsim.memory`), since the next stage runs in this process."""
    try:
        return stage_function(name)(cfg, run, force=force, reporter=reporter, **options)
    finally:
        release_memory()


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
    results = []
    skip: set[str] = set()
    for name in stages or ORDER:
        if name in skip:
            continue
        if name == "pairs" and run.read_stamp("ingest") is not None:
            plan = crossfit.plan(cfg, run)
            if plan is not None:
                reporter.log(f"cross-fitting: {plan.why}")
                crossfit.save_plan(run, plan)
                cfg = crossfit.all_links(cfg)
        if name in BEFORE and (force or not _fresh(name, cfg, run)):
            # imported only when the stage will run: the estimate loads torch (seconds), which
            # an unchanged rerun must not pay
            module, func = BEFORE[name].split(":")
            getattr(importlib.import_module(module), func)(cfg, run, force=force, reporter=reporter)
        try:
            result = run_stage(name, cfg, run, force=force, reporter=reporter)
        except Exception as err:
            if name != "pairs" or type(err).__name__ != "NoTrainingExamples" or not (
                    cold_start_plan(run.summary("ingest"))):
                raise
            # cold start with nothing to train on: the index uses the base model
            reporter.log(f"pairs: {err}; no links either, so nothing is trained or evaluated "
                         "and the index uses the base model")
            skip |= {"train", "evaluate"}
            continue
        results.append(result)
        if on_done:
            on_done(result)
    return results


def _fresh(name: str, cfg: Config, run: RunDir) -> bool:
    """Whether stage ``name`` would be skipped (its module's ``inputs_hash`` is cheap to import)."""
    module = importlib.import_module(STAGES[name].split(":")[0])
    return run.is_fresh(name, module.inputs_hash(cfg, run))


def cold_start_plan(ingest_summary: dict[str, Any]) -> list[str]:
    """What a run can and cannot measure, said up front (empty when known links exist)."""
    links = ingest_summary.get("links") or {}
    if int(links.get("positive", 0) or 0) > 0:
        return []
    cats = bool(ingest_summary.get("categories") or ingest_summary.get("subcategories"))
    lines = ["no known links: link retrieval (MRR@10, recall) and duplicate thresholds cannot "
             "be measured in this run"]
    if cats:
        lines.append("tickets have categories: training uses same-category pairs, and evaluate "
                     "measures routing (kNN category of held-out tickets) for BM25, the base and "
                     "the fine-tuned model")
    else:
        lines.append("tickets have no categories either: training uses each ticket's short vs "
                     "long description, and evaluate has nothing to measure")
    lines.append("the index is built on evaluate's champion model when one is named, else the "
                 "fine-tuned model (the base model when nothing was trained); label pairs to "
                 "measure it")
    return lines
