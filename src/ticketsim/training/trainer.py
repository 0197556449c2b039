"""Build sentence-transformers' trainer from the train config: arguments, loss, callbacks.

Every key of ``train`` lands in ``SentenceTransformerTrainingArguments``, the loss or a
callback here, so tests can read each value back from the built trainer. Nothing here
trains; :mod:`ticketsim.training.stage` calls ``trainer.train``.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib.util
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ticketsim.config import TrainConfig
from ticketsim.errors import ConfigError
from ticketsim.progress import NULL, Reporter
from ticketsim.training.evaluator import METRIC, PRIMARY
from ticketsim.training.losses import build_loss, uses_in_batch_negatives
from ticketsim.training.precision import trainer_flags


def batch_sampler(cfg: TrainConfig) -> str:
    """no_duplicates for in-batch-negative losses (auto), else the plain batch sampler."""
    if cfg.batch_sampler != "auto":
        return cfg.batch_sampler
    return "no_duplicates" if uses_in_batch_negatives(cfg) else "batch_sampler"


TRACKER_PACKAGES = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}


def check_trackers(names: list[str] | str | None) -> None:
    """Fail before training when a ``report_to`` tracker's package is not installed."""
    for name in [names] if isinstance(names, str) else names or []:
        pkg = TRACKER_PACKAGES.get(name)
        if pkg is not None and importlib.util.find_spec(pkg) is None:
            raise ConfigError(f"report_to '{name}' needs the '{pkg}' package, which is not installed",
                              field="train.trainer.report_to",
                              hint=f"pip install {pkg}, or remove '{name}' from train.trainer.report_to")


def trainer_kwargs(cfg: TrainConfig, *, has_evaluator: bool) -> dict[str, Any]:
    """``train.trainer`` as given, checked against SentenceTransformerTrainingArguments' fields.

    ticketsim's rules: without a validation split there is nothing to evaluate (evaluation and
    load-best are off); with eval_strategy epoch, checkpoints follow the epochs unless
    save_strategy is given; load_best_model_at_end needs a checkpoint on every evaluation step,
    so a save_steps that is not a multiple of eval_steps is an error here, not a rewrite.
    """
    from sentence_transformers import SentenceTransformerTrainingArguments


    known = {f.name for f in dataclasses.fields(SentenceTransformerTrainingArguments) if f.init}
    for name in cfg.trainer:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            raise ConfigError(f"train.trainer.{name}: not an argument of "
                              "SentenceTransformerTrainingArguments", field=f"train.trainer.{name}",
                              hint=f"did you mean {close[0]}?" if close else
                              "see transformers' TrainingArguments for the names")
    kw = dict(cfg.trainer)
    if not has_evaluator:
        kw.update(eval_strategy="no", load_best_model_at_end=False)
    evaluating = str(kw.get("eval_strategy", "no")) != "no"
    kw["load_best_model_at_end"] = bool(kw.get("load_best_model_at_end")) and evaluating
    if str(kw.get("eval_strategy")) == "epoch" and "save_strategy" not in cfg.trainer:
        kw["save_strategy"] = "epoch"  # checkpoints follow the evaluations unless told otherwise
    if (kw["load_best_model_at_end"] and str(kw["eval_strategy"]) == "steps"
            and str(kw.get("save_strategy", "steps")) == "steps"):
        save, every = kw.get("save_steps"), kw.get("eval_steps")
        if save and every and save % every:
            raise ConfigError(
                f"save_steps ({save}) is not a multiple of train.trainer.eval_steps "
                f"({every}): load_best_model_at_end needs a checkpoint at every evaluation",
                field="train.trainer.save_steps",
                hint=f"set save_steps to {every * math.ceil(save / every)}, or "
                     "load_best_model_at_end: false")
    if not evaluating:
        kw.pop("eval_steps", None)
    kw["report_to"] = kw.get("report_to") or "none"
    return kw


def build_args(cfg: TrainConfig, output_dir: Path, *, precision: str, has_evaluator: bool,
               use_cpu: bool = False) -> Any:
    """SentenceTransformerTrainingArguments for ``cfg``: ticketsim's keys plus ``train.trainer``."""
    from sentence_transformers import SentenceTransformerTrainingArguments


    kw = trainer_kwargs(cfg, has_evaluator=has_evaluator)
    check_trackers(kw["report_to"])
    try:
        return SentenceTransformerTrainingArguments(
            output_dir=str(output_dir),
            learning_rate=cfg.lr(),
            per_device_train_batch_size=cfg.batch_size,
            per_device_eval_batch_size=cfg.batch_size,
            batch_sampler=batch_sampler(cfg),
            seed=cfg.seed,
            data_seed=cfg.seed,
            logging_first_step=True,
            metric_for_best_model=PRIMARY if str(kw["eval_strategy"]) != "no" else None,
            greater_is_better=True,
            disable_tqdm=True,
            use_cpu=use_cpu,
            **trainer_flags(precision),
            **kw,
        )
    except (ValueError, TypeError) as exc:  # the trainer's own checks of a value
        raise ConfigError(f"train.trainer: {exc}", field="train.trainer") from None


class _ReporterCallback:
    """Turns trainer events into reporter progress and log lines (the library never prints)."""

    def __new__(cls, reporter: Reporter) -> Any:
        from transformers import TrainerCallback

        class ReporterCallback(TrainerCallback):
            def __init__(self) -> None:
                self.steps: Iterator[int] | None = None

            def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                if state.is_world_process_zero:
                    total = state.max_steps
                    self.steps = iter(reporter.track(range(total), total=total, description="train"))
                    next(self.steps, None)  # start it now: its clock (and log heartbeat) runs from here
                    for _ in range(state.global_step):  # resumed: advance to where it was
                        next(self.steps, None)

            def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                if self.steps is not None:
                    next(self.steps, None)

            def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None,
                            **kw: Any) -> None:
                if state.is_world_process_zero and metrics and PRIMARY in metrics:
                    reporter.log(f"step {state.global_step}: validation {METRIC} "
                                 f"{metrics[PRIMARY]:.4f}")

            def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                if self.steps is not None:
                    for _ in self.steps:
                        pass
                    self.steps = None

        return ReporterCallback()


def _no_final_checkpoint() -> Any:
    """Skips the checkpoint the trainer writes after the last step.

    The stage deletes the checkpoints as soon as it has written the model folder, so that
    save (model plus optimizer state, ~270 MB for MiniLM) is pure cost inside ``train``.
    Only added when the best checkpoint is not reloaded at the end (which needs it).
    """
    from transformers import TrainerCallback

    class NoFinalCheckpoint(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step >= state.max_steps:
                control.should_save = False

    return NoFinalCheckpoint()


PROBE_STEPS = 10  # steps timed (after the first, which pays one-off costs) to plan a budget
RATE_WINDOW = 20  # recent steps whose mean time is the current step time (re-measured as load changes)
SAVE_BYTES_PER_S = 50e6  # assumed disk speed for the final model save until a checkpoint is timed


class TimeBudget:
    """``train.time_budget``: the whole train stage, model load to saved model, fits the budget.

    The clock starts when the stage starts (``started``), so loading the model, the length
    report and the evaluator count. The first step pays one-off costs and is not timed;
    after ``probe_steps`` more, and again at every step, the mean time of the last
    ``RATE_WINDOW`` steps (re-measured, so a machine that gets busier is followed), the
    measured cost of an evaluation and of a checkpoint, and a reserve for what follows the
    last step (the final evaluation, a checkpoint, saving the model) give the steps that
    still fit; ``max_steps`` and the learning-rate schedule are cut (or grown back, never
    above the recipe) to that. A hard stop ends training when the next step would eat into
    the reserve. ``info`` holds the plan and the measurements for the summary.
    """

    def __init__(self, seconds: float, reporter: Reporter = NULL, probe_steps: int = PROBE_STEPS,
                 clock: Any = None, started: float | None = None, model_bytes: int = 0) -> None:
        self.seconds = seconds
        self.reporter = reporter
        self.probe_steps = probe_steps
        self.clock = clock or time.perf_counter
        self.started = self.clock() if started is None else started
        self.deadline = self.started + seconds
        self.model_bytes = model_bytes
        self.step_times: list[float] = []
        self.eval_s: float | None = None
        self.save_s: float | None = None
        self.evaluating = False
        self.early_eval = False
        self.first_step_s = 0.0
        self.info: dict[str, Any] = {"budget_s": seconds, "steps_per_s": None,
                                     "measured_steps": 0, "recipe_steps": None,
                                     "planned_steps": None, "stopped_by_budget": False,
                                     "setup_s": None, "eval_s": None, "save_s": None,
                                     "reserve_s": None, "replans": 0,
                                     "final_evaluation_skipped": False}

    def reserve(self) -> float:
        """Seconds kept for after the last step: one evaluation, one checkpoint, the model save."""
        save = self.save_s if self.save_s is not None else self.model_bytes / SAVE_BYTES_PER_S
        return ((self.eval_s or 0.0) if self.evaluating else 0.0) + 2 * save

    def step_s(self) -> float | None:
        recent = self.step_times[-RATE_WINDOW:]
        return sum(recent) / len(recent) if recent else None

    def callback(self) -> Any:
        from transformers import TrainerCallback

        budget = self

        class TimeBudgetCallback(TrainerCallback):
            def __init__(self) -> None:
                self.mark = 0.0  # time of the last event (step end, evaluation, checkpoint)
                self.first_step = 0

            def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                self.mark = budget.clock()
                budget.info["setup_s"] = round(self.mark - budget.started, 3)
                self.first_step = state.global_step
                budget.evaluating = _eval_strategy(args) != "no"
                budget.info["recipe_steps"] = budget.info["planned_steps"] = int(state.max_steps)

            def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                now = budget.clock()
                done = state.global_step - self.first_step
                if done > 1:  # the first step pays one-off costs
                    budget.step_times.append(now - self.mark)
                elif done == 1:  # until a step is timed, the first one is the (high) guess
                    budget.first_step_s = now - self.mark
                self.mark = now
                if len(budget.step_times) >= budget.probe_steps:
                    if budget.evaluating and budget.eval_s is None and not budget.early_eval:
                        # evaluate (and checkpoint) once now, so their cost is measured before
                        # the plan has to count them, not discovered at the end
                        budget.early_eval = True
                        control.should_evaluate = True
                        control.should_save = control.should_save or args.load_best_model_at_end
                    budget.plan(state, control, now, kw.get("lr_scheduler"), args)
                # the next step may be as slow as the last one (a machine getting busier)
                step = max(budget.step_s() or 0.0, budget.step_times[-1] if budget.step_times
                           else budget.first_step_s)
                if (now + step + budget.reserve() > budget.deadline
                        and not control.should_training_stop):
                    budget.stop(state, control, args)

            def on_evaluate(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                now = budget.clock()
                budget.eval_s = now - self.mark
                budget.info["eval_s"] = round(budget.eval_s, 3)
                self.mark = now

            def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                now = budget.clock()
                budget.save_s = now - self.mark
                budget.info["save_s"] = round(budget.save_s, 3)
                self.mark = now

        return TimeBudgetCallback()

    def fit_steps(self, state: Any, now: float, args: Any) -> int:
        """Steps from now (up to the recipe's) whose training, evaluations and checkpoints fit."""
        step = self.step_s() or 0.0
        left = self.deadline - now - self.reserve()
        room = int(self.info["recipe_steps"]) - state.global_step
        every = int(args.eval_steps or 0) if _eval_strategy(args) == "steps" else 0
        pause = (self.eval_s or 0.0) + ((self.save_s or 0.0) if args.load_best_model_at_end else 0.0)

        def cost(k: int) -> float:
            evals = ((state.global_step + k) // every - state.global_step // every) if every else 0
            return k * step + evals * pause

        lo, hi = 0, max(room, 0)
        while lo < hi:  # the largest k with cost(k) <= left (cost grows with k)
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if cost(mid) <= left else (lo, mid - 1)
        return lo

    def plan(self, state: Any, control: Any, now: float, scheduler: Any, args: Any) -> None:
        """Set ``max_steps`` to what fits in the rest of the budget at the current rate."""
        first = self.info["measured_steps"] == 0
        step = self.step_s() or 0.0
        rate = 1.0 / step if step > 0 else float("inf")
        self.info.update(steps_per_s=rate, measured_steps=len(self.step_times),
                         reserve_s=round(self.reserve(), 3))
        fit = state.global_step + self.fit_steps(state, now, args)
        current = int(state.max_steps)
        recipe = int(self.info["recipe_steps"])
        if first and fit >= recipe:
            self.reporter.log(f"train: time budget {self.seconds:.0f} s: {rate:.2f} steps/s "
                              f"measured, the recipe's {recipe} steps fit")
            return
        # hysteresis (the hard stop covers small overruns): re-plan on a clear change only
        if not (first or fit < min(current * 0.98, current - 2) or fit > max(current * 1.05, current + 2)):
            return
        fit = min(max(fit, state.global_step), recipe)
        if fit == current:
            return
        if first:
            self.reporter.log(f"train: time budget {self.seconds:.0f} s: {rate:.2f} steps/s "
                              f"measured over {len(self.step_times)} steps; {fit} of the recipe's "
                              f"{recipe} steps fit")
        elif abs(fit - current) > 0.05 * current:
            self.reporter.log(f"train: time budget: {rate:.2f} steps/s now; re-planned to "
                              f"{fit} steps (was {current})")
        self.info["planned_steps"] = fit
        self.info["replans"] += 0 if first else 1
        state.max_steps = fit
        _replan_schedule(scheduler, fit, state.global_step, args)
        if state.global_step >= fit:
            self.stop(state, control, args)

    def stop(self, state: Any, control: Any, args: Any) -> None:
        """End training at this step as the trainer's own last step would (evaluate, save)."""
        self.info["stopped_by_budget"] = True
        self.info["planned_steps"] = int(state.global_step)
        state.max_steps = state.global_step
        control.should_training_stop = True
        if self.eval_s is None or self.clock() + self.eval_s > self.deadline:
            # an evaluation of unknown (or too high) cost would overrun: the best checkpoint
            # evaluated so far (or this model, when none was) is the result
            control.should_evaluate = False
            control.should_save = False
            self.info["final_evaluation_skipped"] = True
        else:
            if _eval_strategy(args) == "steps":
                control.should_evaluate = True
            if args.load_best_model_at_end:  # the best may be this step's: it must be saved
                control.should_save = True
        self.reporter.log(f"train: time budget {self.seconds:.0f} s reached, "
                          f"stopping at step {state.global_step}")


def _eval_strategy(args: Any) -> str:
    return str(getattr(args.eval_strategy, "value", args.eval_strategy))


def _replan_schedule(scheduler: Any, total: int, step: int, args: Any) -> None:
    """Make the learning-rate schedule (transformers' LambdaLR partials) end at ``total``."""
    for i, lam in enumerate(getattr(scheduler, "lr_lambdas", [])):
        if not isinstance(lam, functools.partial):
            continue
        kw = dict(lam.keywords)
        if "num_training_steps" in kw:
            kw["num_training_steps"] = total
        if "num_warmup_steps" in kw and 0 < args.warmup_steps < 1:
            # a warm-up ratio: a share of the new length, but never restarted
            kw["num_warmup_steps"] = min(kw["num_warmup_steps"],
                                         max(step, math.ceil(args.warmup_steps * total)))
        scheduler.lr_lambdas[i] = functools.partial(lam.func, *lam.args, **kw)


def build_trainer(model: Any, cfg: TrainConfig, train_ds: Any, eval_ds: Any, evaluator: Any,
                  output_dir: Path, *, precision: str = "fp32", reporter: Reporter = NULL,
                  callbacks: list[Any] | None = None, use_cpu: bool = False,
                  logging_dir: Path | None = None, budget: TimeBudget | None = None) -> Any:
    """A ready SentenceTransformerTrainer (loss, sampler, evaluator, early stopping).

    ``budget``: a :class:`TimeBudget` whose callback cuts the steps to fit
    ``train.time_budget`` (made here from the config when not given).

    ``logging_dir``: where TensorBoard event files go (one sub-folder per training start)
    instead of the trainer's default under ``output_dir``, which the stage deletes.
    """
    from sentence_transformers import SentenceTransformerTrainer
    from transformers import EarlyStoppingCallback, PrinterCallback

    args = build_args(cfg, output_dir, precision=precision, has_evaluator=evaluator is not None,
                      use_cpu=use_cpu)
    if cfg.group_by_length:
        from ticketsim.training.sampler import LengthGrouped

        args.batch_sampler = LengthGrouped(
            model.tokenizer, int(model.max_seq_length or 512), cfg.length_group_batches,
            no_duplicates=batch_sampler(cfg) == "no_duplicates")
    loss = build_loss(model, cfg)
    cbs: list[Any] = [_ReporterCallback(reporter), *(callbacks or [])]
    if budget is None and cfg.budget_seconds():
        budget = TimeBudget(cfg.budget_seconds() or 0.0, reporter,
                            model_bytes=4 * sum(p.numel() for p in model.parameters()))
    if budget is not None:
        cbs.append(budget.callback())
    if not args.load_best_model_at_end:
        cbs.append(_no_final_checkpoint())
    if cfg.early_stopping_patience > 0 and args.eval_strategy != "no":
        cbs.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience,
                                         early_stopping_threshold=cfg.early_stopping_threshold))
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=train_ds,
        eval_dataset=eval_ds if args.eval_strategy != "no" else None,
        loss=loss, evaluator=evaluator if args.eval_strategy != "no" else None, callbacks=cbs,
    )
    trainer.remove_callback(PrinterCallback)
    if logging_dir is not None:
        _tensorboard_dir(trainer, logging_dir)
    return trainer


def _tensorboard_dir(trainer: Any, logging_dir: Path) -> None:
    """Point the TensorBoard callback at ``logging_dir`` unless TENSORBOARD_LOGGING_DIR is set."""
    from transformers.integrations import TensorBoardCallback
    from transformers.integrations.integration_utils import default_logdir

    for cb in trainer.callback_handler.callbacks:
        if isinstance(cb, TensorBoardCallback) and cb.logging_dir is None:
            cb.logging_dir = str(Path(logging_dir) / Path(default_logdir()).name)
