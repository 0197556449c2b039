"""The train stage: pairs -> a fine-tuned sentence-transformers model folder.

Order of work, cheapest checks first: the dataset's columns against the configured
loss, the precision against the device, then the model, the token-length report
(which may pick ``max_seq_length``), the loss, LoRA, the early-stopping evaluator,
and only then ``SentenceTransformerTrainer.train``. Checkpoints go to
``<run>/train-checkpoints`` (outside the stage's temp folder) so ``--resume`` can
continue a killed run; they are removed once the stage folder is in place. Under
``torchrun`` / ``accelerate launch`` every process runs this function and the
trainer does data parallelism; only the main process writes the stage folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ticketsim.config import Config
from ticketsim.data.ingest import IngestOutput
from ticketsim.errors import TicketsimError
from ticketsim.models import load_model, resolve_model
from ticketsim.pairs.stage import PairsOutput
from ticketsim.plots import figure, png
from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import (
    Output,
    RunDir,
    StageOutput,
    StageResult,
    atomic_write_json,
    combine_hashes,
)
from ticketsim.training import adapt, seqlen
from ticketsim.training.card import write_card
from ticketsim.training.cross_encoder import OUTPUT, train_from_run
from ticketsim.training.evaluator import KEY, METRIC, PRIMARY, build_evaluator
from ticketsim.training.lora import add_lora, merge_into, parameter_counts, save_adapter
from ticketsim.training.losses import check_dataset
from ticketsim.training.precision import device_kind, resolve_precision
from ticketsim.training.trainer import TimeBudget, build_trainer

if TYPE_CHECKING:  # pandas costs a second; index/embed reads TrainOutput on the query path
    import pandas as pd

STAGE = "train"
MODEL, ADAPTER, LOG = "model", "adapter", "log.json"
CHECKPOINTS = "train-checkpoints"
LOGS = "train-logs"  # experiment-tracker logs (TensorBoard), kept after the stage finishes


def inputs_hash(cfg: Config, run: RunDir) -> str:
    pairs = run.read_stamp("pairs") or {}
    return combine_hashes(pairs.get("inputs_hash", ""), cfg.train.fingerprint())


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Silence transformers / hub progress bars and info logs while the library works."""
    import transformers
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    level = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    disable_progress_bars()
    try:
        yield
    finally:
        transformers.logging.set_verbosity(level)
        transformers.logging.enable_progress_bar()
        enable_progress_bars()


def read_dataset(path: Path, cfg: Config) -> pd.DataFrame:
    """A pairs dataset, checked against the configured loss's format before anything else."""
    import pandas as pd


    if not path.is_file():
        raise TicketsimError("training dataset is missing", file=path,
                             hint=f"run `ticketsim pairs --run-dir {path.parent.parent}`")
    df = pd.read_parquet(path)
    check_dataset(cfg.train, list(df.columns), file=str(path))
    return df


def training_texts(df: pd.DataFrame, limit: int = 5000, seed: int = 0) -> list[str]:
    """Unique texts of every text column (a sample of ``limit`` for the length report)."""
    import pandas as pd

    cols = [c for c in df.columns if c not in ("label", "score")]
    texts = pd.unique(pd.concat([df[c].astype(str) for c in cols], ignore_index=True))
    s = pd.Series(texts)
    if len(s) > limit:
        s = s.sample(limit, random_state=seed)
    return s.tolist()


def loss_png(history: list[dict[str, Any]]) -> bytes:
    """Training (and validation) loss per step as a PNG."""
    fig, ax = figure()
    tr = [(h["step"], h["loss"]) for h in history if "loss" in h]
    ev = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h]
    if tr:
        ax.plot(*zip(*tr, strict=True), label="train loss", color="#4C72B0")
    if ev:
        ax.plot(*zip(*ev, strict=True), "o-", label="validation loss", color="#DD8452")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    return png(fig)


def _last_complete_checkpoint(ck: Path) -> Path | None:
    """The newest checkpoint whose trainer_state.json (the trainer writes it last) reads.

    The trainer writes checkpoint folders in place, so a kill during a save leaves a torn
    ``checkpoint-N``; resuming from it would fail, so it is skipped (and removed).
    """
    found = sorted((p for p in ck.glob("checkpoint-*") if p.is_dir() and
                    p.name.split("-")[-1].isdigit()), key=lambda p: int(p.name.split("-")[-1]))
    for p in reversed(found):
        try:
            json.loads((p / "trainer_state.json").read_text())
            return p
        except (OSError, ValueError):
            if _is_main():
                shutil.rmtree(p, ignore_errors=True)
    return None


def _checkpoint_dir(run: RunDir, h: str, resume: bool,
                    reporter: Reporter) -> tuple[Path, Path | None]:
    """(checkpoint folder, the checkpoint to resume from: None when starting over)."""
    ck = run.path / CHECKPOINTS
    marker = ck / "inputs_hash"
    if resume:
        last = _last_complete_checkpoint(ck) if ck.is_dir() else None
        if last is None:
            raise TicketsimError(f"{ck}: no checkpoint to resume from",
                                 hint=f"run `ticketsim train --run-dir {run.path}` without --resume")
        if marker.is_file() and marker.read_text().strip() != h:
            raise TicketsimError(
                f"{ck}: the checkpoints were made with other pairs or train settings",
                hint="resume with the same config, or train without --resume (starts over)",
            )
        reporter.log(f"train: resuming from {last.name}")
        return ck, last
    if _is_main():
        if ck.exists():
            shutil.rmtree(ck)
        ck.mkdir(parents=True)
        marker.write_text(h + "\n")
    return ck, None


def run_train(cfg: Config, run: RunDir, *, force: bool = False, reporter: Reporter = NULL,
              resume: bool = False, callbacks: list[Any] | None = None) -> StageResult:
    """Fine-tune ``train.base_model`` on the pairs stage's dataset; skipped when inputs are unchanged.

    Every process of a distributed training builds; only the main one writes the folder."""
    started = time.perf_counter()  # train.time_budget bounds the stage from here
    pairs = PairsOutput.read(run, STAGE)
    h = inputs_hash(cfg, run)

    def build() -> Output:
        with quiet_libraries():
            return _train(cfg, run, pairs, h, reporter=reporter, resume=resume,
                          callbacks=callbacks, started=started)

    result = run.produce(STAGE, h, build, force=force or resume, reporter=reporter,
                         write=_is_main())
    if result.skipped:  # nothing trained: torch stays unimported
        return result
    _end_distributed()
    if _is_main():
        shutil.rmtree(run.path / CHECKPOINTS, ignore_errors=True)
        s = result.summary
        reporter.log(f"train: {s['steps']} steps in {s['train_seconds']:.0f} s "
                     f"({s['pairs_per_second']:.1f} pairs/s), loss {s['train_loss']:.4f}")
    return result


def _distributed() -> tuple[int, str | None]:
    """(processes, backend) of the data-parallel group the trainer set up; (1, None) alone."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), str(dist.get_backend())
    return 1, None


def _end_distributed() -> None:
    """Under torchrun, wait for the main process to finish writing, then close the group.

    Without it a non-main process returned as soon as training ended and exited while its
    gloo threads were still connected to the main one, which aborts now and then
    (``terminate called without an active exception``, exit -6) under load.
    """
    if "torch" not in sys.modules:  # nothing trained in this process (skipped): no group,
        return  # and an unchanged rerun must not pay torch's import (seconds)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _final_validation(trainer: Any, evaluator: Any, model: Any,
                      budget_spent: bool = False) -> float | None:
    """The validation metric of the model being saved, without evaluating it again when the
    trainer already did (the best checkpoint's, or the last step's evaluation)."""
    state = trainer.state
    if trainer.args.load_best_model_at_end and state.best_metric is not None:
        return float(state.best_metric)
    last = [h for h in state.log_history if PRIMARY in h]
    if last and last[-1].get("step") == state.global_step:
        return float(last[-1][PRIMARY])
    if budget_spent:  # the time budget has no room for an evaluation: not measured
        return None
    final = evaluator(model)
    return float(final[KEY]) if KEY in final else None


def _train(cfg: Config, run: RunDir, pairs: PairsOutput, h: str, *, reporter: Reporter,
           resume: bool, callbacks: list[Any] | None, started: float) -> Output:
    import pandas as pd
    from datasets import Dataset


    tc = cfg.train
    train_df = read_dataset(pairs.train_path, cfg)
    if train_df.empty:
        raise TicketsimError("the training dataset has no rows", file=pairs.train_path,
                             hint="check pairs/summary.json: no positives were found")
    val_path = pairs.validation_path
    val_df = read_dataset(val_path, cfg) if val_path.is_file() else None
    device = device_kind()
    precision = resolve_precision(tc.precision, device)
    if precision == "bf16" and device == "cpu":
        reporter.log("warning: bf16 on a CPU trains no faster than fp32 (about equal with AMX units, "
                     "~30x slower without them); "
                     "precision: auto picks fp32")

    base = resolve_model(tc.base_model)
    model = load_model(base, cache=False)

    # --- token lengths against max_seq_length
    tokenizer = model.tokenizer
    model_max = getattr(tokenizer, "model_max_length", None)
    model_max = model_max if isinstance(model_max, int) and model_max < 100_000 else None
    lengths = seqlen.token_lengths(tokenizer, training_texts(train_df, seed=tc.seed))
    auto = tc.max_seq_length == "auto"
    limit = seqlen.pick_auto(lengths, tc.truncation_threshold, model_max) if auto \
        else int(tc.max_seq_length)
    # what the saved model reads at serve time: at least what the base model read. Training at
    # 128 bounds the training cost; reading the fold models at 128 instead of the base model's
    # 256 cost 0.050 MRR@10 on SeaMonkey (docs/search.md, "Read length")
    read_limit = max(limit, int(model.max_seq_length or limit))
    model.max_seq_length = limit
    length_rep = seqlen.length_report(lengths, limit, tc.truncation_threshold, auto=auto,
                                      model_max=model_max)
    reporter.log(f"train: max_seq_length {limit}{' (auto)' if auto else ''}, "
                 f"{100 * length_rep['truncated_share']:.1f} % of training texts truncated, "
                 f"p95 {length_rep['percentiles']['p95']:.0f} tokens")
    for key in ("warning", "suggestion"):
        if length_rep[key]:
            reporter.log(f"train: {length_rep[key]}")

    seqlen_png = seqlen.histogram_png(lengths, limit)  # before training: plotting's import
    # costs seconds on a busy machine, which a time budget cannot see coming after the last step

    # before any work: a --resume without a checkpoint fails at once
    ck, resume_from = _checkpoint_dir(run, h, resume, reporter)
    resuming = resume_from is not None
    adapted = None
    if resuming and tc.domain_adaptation != "none":  # the checkpoint holds the adapted weights
        adapted = {"method": tc.domain_adaptation, "skipped": "resumed from a checkpoint"}
    elif tc.domain_adaptation != "none":  # unsupervised steps on the whole history first
        tickets_df = IngestOutput.read(run, STAGE).tickets(columns=["id", "text"])
        split_df = pairs.split()
        held = set(split_df.loc[split_df["split"] == "test", "id"].astype(str))
        texts = [str(t) for i, t in zip(tickets_df["id"], tickets_df["text"], strict=True)
                 if i not in held]
        adapted = adapt.adapt(model, texts, tc.domain_adaptation, tc.domain_adaptation_steps,
                              tc.batch_size, tc.seed, reporter=reporter)
    lora_info = add_lora(model, tc.lora) if tc.lora.enabled else parameter_counts(model)
    if tc.lora.enabled:
        reporter.log(f"train: LoRA adapter, {lora_info['trainable_parameters']:,} trainable "
                     f"parameters ({100 * lora_info['trainable_share']:.2f} %)")

    evaluator = None
    links_path = pairs.validation_links_path
    if tc.trainer["eval_strategy"] != "no" and links_path.is_file():
        tickets = IngestOutput.read(run, STAGE).tickets(columns=["id", "text"])
        split = pairs.split()
        evaluator = build_evaluator(tickets, split, pd.read_parquet(links_path),
                                    tc.eval_max_queries, cfg.evaluate.batch_size, tc.seed)
        if evaluator is None:
            reporter.log("train: no validation links; training without early stopping")

    train_ds = Dataset.from_pandas(train_df, preserve_index=False)
    eval_ds = Dataset.from_pandas(val_df, preserve_index=False) \
        if val_df is not None and not val_df.empty else None
    budget = TimeBudget(tc.budget_seconds() or 0.0, reporter, started=started,
                        model_bytes=4 * sum(p.numel() for p in model.parameters())
                        ) if tc.time_budget else None
    trainer = build_trainer(model, tc, train_ds, eval_ds, evaluator, ck, precision=precision,
                            reporter=reporter, callbacks=callbacks, use_cpu=device == "cpu",
                            logging_dir=run.path / LOGS, budget=budget)
    start = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.perf_counter() - start
    history = [dict(r) for r in trainer.state.log_history]
    processes, backend = _distributed()
    summary: dict[str, Any] = {
        "processes": processes, "distributed_backend": backend,
        "base_model": tc.base_model, "loss": tc.loss, "precision": precision, "device": device,
        "max_seq_length": limit, "read_max_seq_length": read_limit,
        "truncated_share": length_rep["truncated_share"],
        "train_rows": len(train_df), "steps": int(trainer.state.global_step),
        "epochs": float(trainer.state.epoch or 0), "train_seconds": seconds,
        "train_loss": float(out.training_loss),
        "pairs_per_second": len(train_df) * float(trainer.state.epoch or 0) / seconds
        if seconds else 0.0,
        "resumed": resuming, "resumed_from": resume_from.name if resume_from else None,
        "lora": tc.lora.enabled, **lora_info, "domain_adaptation": adapted,
        "best_metric": trainer.state.best_metric, "best_checkpoint":
            Path(trainer.state.best_model_checkpoint).name if trainer.state.best_model_checkpoint
            else None,
        "time_budget": {"budget": tc.time_budget, **budget.info} if budget else None,
        "validation_metric": METRIC if evaluator is not None else None,
        "final_validation_mrr@10": None,
    }
    if evaluator is not None:
        spent = budget is not None and bool(budget.info.get("final_evaluation_skipped"))
        summary["final_validation_mrr@10"] = _final_validation(trainer, evaluator, model, spent)
    exact = cfg.train.model_dump(mode="json")

    def save(tmp: Path) -> None:
        model.max_seq_length = read_limit  # training is over: the saved model reads this much
        if tc.lora.enabled:
            save_adapter(model, tmp / ADAPTER, tc.base_model)
            atomic_write_json(tmp / ADAPTER / "ticketsim_config.json", exact)
            if tc.lora.merge:
                merge_into(tmp / ADAPTER, tmp / MODEL, tc.base_model)
        else:
            # the stock card (widget examples encoded on save) only when it is kept
            model.save(str(tmp / MODEL), create_model_card=tc.model_card_examples)

        if (tmp / MODEL).is_dir():
            atomic_write_json(tmp / MODEL / "ticketsim_config.json", exact)
            write_card(tmp / MODEL, exact, summary)  # no ticket text unless asked (issue 17)
        if (tmp / ADAPTER / "README.md").is_file():
            write_card(tmp / ADAPTER, exact, summary)
        atomic_write_json(tmp / LOG, {"log_history": history})
        (tmp / "loss.png").write_bytes(loss_png(history))
        atomic_write_json(tmp / "seqlen.json", {**length_rep, "lengths_sample": lengths[:2000].tolist()})
        (tmp / "seqlen.png").write_bytes(seqlen_png)
        if tc.cross_encoder.enabled:  # the re-ranker, on the same training links
            summary["cross_encoder"] = train_from_run(cfg, run, tmp / OUTPUT, reporter=reporter)
        if budget is not None:  # what the budget bounds: the whole stage, model load to save
            summary["time_budget"]["stage_s"] = round(time.perf_counter() - started, 2)

    return Output(summary, save)


@dataclasses.dataclass(frozen=True)
class TrainOutput(StageOutput):
    """The train stage's artifacts, for the stages after it (no one else opens its files)."""

    STAGE = STAGE

    @classmethod
    def find(cls, run: RunDir) -> TrainOutput | None:
        """The finished train stage, or None (a cold start, or evaluate before train)."""
        return cls.read(run) if run.read_stamp(STAGE) is not None else None

    @property
    def model_dir(self) -> Path | None:
        """The fine-tuned sentence-transformers folder (None: a LoRA adapter kept unmerged)."""
        return self.folder / MODEL if (self.folder / MODEL).is_dir() else None

    def loss_curve(self) -> list[tuple[float, float]]:
        """(step, training loss) from log.json (``{"log_history": [trainer records]}``)."""
        try:
            history = json.loads((self.folder / LOG).read_text())["log_history"]
        except (OSError, ValueError, KeyError, TypeError):
            return []
        return [(float(r["step"]), float(r["loss"])) for r in history if "loss" in r]
