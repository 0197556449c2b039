"""How long the rest of ``ticketsim run`` will take, said before the long stages start.

After ``pairs`` the sizes are known (tickets, training pairs, ``max_seq_length``); a
probe of a few seconds times one real training step (forward and backward through the
configured loss and the optimizer step on a batch of the run's own pairs) and the embedding of a batch of its
tickets, on this machine, now. From those: training steps (the recipe's, capped by
``train.time_budget``), the early-stopping evaluations, ``evaluate`` (every ticket
embedded by the base and the fine-tuned model, with ``index.lead_weight: auto`` the
leads once more, and, when the run cross-fits, each fold model trained and embedding every
ticket) and ``index`` (every ticket once, or none
when ``evaluate`` already embedded the fine-tuned model into the run's cache). A step's
time is scaled by the padded token positions of length-grouped batches against the
probe's batch, since that is what a step's cost follows. The probe encodes with torch;
the ONNX encoders' rates are torch's times their measured speed-up (``ENCODER_SPEEDUP``).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ticketsim.config import Config
from ticketsim.data.ingest import IngestOutput
from ticketsim.errors import TicketsimError
from ticketsim.evaluation import crossfit
from ticketsim.index.routing import routing_lead
from ticketsim.models import load_model
from ticketsim.pairs.stage import PairsOutput
from ticketsim.progress import Reporter
from ticketsim.rundir import RunDir
from ticketsim.training import seqlen
from ticketsim.training.losses import build_loss
from ticketsim.training.sampler import grouped_batches
from ticketsim.training.stage import STAGE, inputs_hash

# the sampler imports sentence-transformers (seconds): ticketsim.pipeline imports this module
# only when training will run, so an unchanged rerun never loads torch


@dataclass
class RunEstimate:
    tickets: int
    pairs: int
    max_seq_length: int
    steps: int
    recipe_steps: int
    step_s: float
    encode_per_s: float
    train_s: float
    evaluate_s: float
    index_s: float
    probe_s: float
    folds: int = 0  # cross-fitting's fold models, trained and embedded inside evaluate
    adapt_s: float = 0.0  # train.domain_adaptation's share of train_s (an upper bound)

    @property
    def total_s(self) -> float:
        return self.train_s + self.evaluate_s + self.index_s

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total_s": self.total_s}

    def line(self) -> str:
        steps = f"{self.steps} steps" + (f" (budget; recipe {self.recipe_steps})"
                                         if self.steps < self.recipe_steps else "")
        return (f"estimate: train ~{_fmt(self.train_s)} ({steps} x "
                f"{self.step_s:.2f} s on {self.pairs:,} pairs at {self.max_seq_length} tokens"
                + (f", domain adaptation up to ~{_fmt(self.adapt_s)}" if self.adapt_s else "")
                + "), "
                f"evaluate ~{_fmt(self.evaluate_s)}"
                + (f" (with {self.folds} cross-fitting trainings)" if self.folds else "")
                + f", index ~{_fmt(self.index_s)} "
                f"({self.tickets:,} tickets at {self.encode_per_s:.0f}/s): "
                f"~{_fmt(self.total_s)} in all")


def _fmt(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def recipe_steps(cfg: Config, pairs: int) -> int:
    tc, hf = cfg.train, cfg.train.trainer
    if hf["max_steps"] > 0:
        return int(hf["max_steps"])
    per_epoch = math.ceil(pairs / tc.batch_size / hf["gradient_accumulation_steps"])
    return max(1, math.ceil(per_epoch * hf["num_train_epochs"]))


def _padded(lengths: np.ndarray, batches: list[list[int]]) -> float:
    return float(sum(len(b) * lengths[b].max(axis=0).sum() for b in batches if len(b)))


# embedding rate against torch, the lowest of bench/results/encode.json's three data sets
# (Endava 5,000, SeaMonkey, demo; 2 cores): onnx 1.97-2.19x, int8 3.17-3.75x. ``auto`` is
# estimated as int8 (it falls back to torch when int8 disagrees with torch on the run's tickets).
ENCODER_SPEEDUP = {"torch": 1.0, "onnx": 1.97, "onnx-int8": 3.17, "auto": 3.17}
# rows in the timed training step (scaled to the batch by padded positions). A full default
# batch: on SeaMonkey an 8-row step scaled up read 0.82 s a step, a 32-row one 2.86 s, and
# the trainer measured ~3.5 s (steps do not scale down linearly)
PROBE_ROWS = 32
PROBE_TEXTS = 32  # tickets in the timed encoding


def estimate_run(cfg: Config, run: RunDir, *, probe_rows: int = PROBE_ROWS) -> RunEstimate:
    """Time a training step and an encoding batch on this run's data; extrapolate."""
    import torch

    tc = cfg.train
    start = time.perf_counter()
    tickets = IngestOutput.read(run, "the estimate").tickets(columns=["text"])
    train = pd.read_parquet(PairsOutput.read(run, "the estimate").train_path)
    cols = [c for c in train.columns if c not in ("label", "score")]
    model = load_model(tc.base_model, cache=False)
    tok = model.tokenizer
    model_max = getattr(tok, "model_max_length", None)
    model_max = model_max if isinstance(model_max, int) and model_max < 100_000 else None
    sample = train.sample(min(len(train), 2000), random_state=0).reset_index(drop=True)
    if tc.max_seq_length == "auto":
        texts = pd.unique(pd.concat([sample[c].astype(str) for c in cols])).tolist()
        limit = seqlen.pick_auto(seqlen.token_lengths(tok, texts), tc.truncation_threshold,
                                 model_max)
    else:
        limit = int(tc.max_seq_length)
    model.max_seq_length = limit
    lengths = np.stack([np.array([len(x) for x in tok(sample[c].astype(str).tolist(),
                                                       truncation=True, max_length=limit)
                                  ["input_ids"]]) for c in cols], axis=1)

    # one training step on a random batch of real pairs (the second of two: the first warms up)
    b = min(probe_rows, tc.batch_size, len(sample))
    rows = np.arange(b)
    loss = build_loss(model, tc)
    model.train()
    # the trainer's optimizer (AdamW) steps too
    opt = torch.optim.AdamW([w for w in loss.parameters() if w.requires_grad], lr=tc.lr())
    step_s = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        feats = [model.preprocess(sample[c].astype(str).iloc[:b].tolist()) for c in cols]
        labels = None
        if "label" in sample or "score" in sample:
            labels = torch.tensor(sample["label" if "label" in sample else "score"].iloc[:b].to_numpy(),
                                  dtype=torch.float)
        loss(feats, labels).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        step_s = min(step_s, time.perf_counter() - t)
    model.eval()
    # scale to the padding of the batches training will make
    batches = grouped_batches(lengths.sum(1), tc.batch_size, tc.length_group_batches,
                              np.random.default_rng(0)) if tc.group_by_length else \
        [list(range(i, min(i + tc.batch_size, len(sample))))
         for i in range(0, len(sample), tc.batch_size)]
    per_batch = _padded(lengths, batches) / max(1, len(batches))
    probe_cost = _padded(lengths, [rows.tolist()]) * tc.batch_size / b
    step_s *= per_batch / probe_cost if probe_cost else 1.0
    step_s *= tc.trainer["gradient_accumulation_steps"]

    # embedding rate on the run's tickets (length-sorted batches, as the encoders do)
    texts = tickets["text"].astype(str).sample(min(len(tickets), PROBE_TEXTS),
                                               random_state=0).tolist()
    t = time.perf_counter()
    model.encode(texts, batch_size=PROBE_TEXTS, show_progress_bar=False)
    encode_per_s = (len(texts) / max(time.perf_counter() - t, 1e-6)
                    * ENCODER_SPEEDUP[cfg.index.encoder])  # evaluate and index use index.encoder

    recipe = recipe_steps(cfg, len(train))
    plan = crossfit.planned(run)
    folds = plan.k if plan is not None else 0
    steps = recipe
    budget = tc.budget_seconds()
    if budget is not None:
        steps = min(recipe, max(1, int(budget / step_s)))
    n = len(tickets)
    lead = 1 if cfg.index.lead_weight == "auto" else 0
    # index.routing_lead_weight: evaluate reads the base model's leads once (cached across
    # folds; a fine-tuned model's are lead_weight auto's pass, reused)
    route_lead = 1 if routing_lead(cfg.index, cfg.index.reading()["lead_weight"]) else 0
    hf = tc.trainer
    every = hf.get("eval_steps") or hf["logging_steps"]  # the trainer's own fallback
    every = max(1.0, every * recipe if every < 1 else every)  # below 1: a share of the steps
    evals = (int(steps // every) + 1 if hf["eval_strategy"] == "steps" else
             math.ceil(hf["num_train_epochs"]) if hf["eval_strategy"] == "epoch" else 0)
    # each early-stopping evaluation embeds the non-test tickets (~90 %)
    adapt_s = adaptation_s(tc, n, step_s, encode_per_s / ENCODER_SPEEDUP[cfg.index.encoder])
    train_s = adapt_s + steps * step_s + evals * 0.9 * n / encode_per_s
    if budget is not None:
        train_s = min(train_s, budget)  # the budget's hard stop covers evaluations too
    return RunEstimate(tickets=n, pairs=len(train), max_seq_length=limit, steps=steps,
                       recipe_steps=recipe, step_s=step_s, encode_per_s=encode_per_s,
                       train_s=train_s,
                       # cross-fitting: each fold model is trained and embeds every ticket;
                       # lead_weight / routing_lead_weight: more passes over the leads (bound:
                       # a full pass each)
                       evaluate_s=(2 + lead + route_lead) * n / encode_per_s
                       + folds * (train_s + (1 + lead) * n / encode_per_s),
                       index_s=0.0 if index_from_cache(cfg) else n / encode_per_s,
                       probe_s=time.perf_counter() - start, folds=folds, adapt_s=adapt_s)


def adaptation_s(tc: Any, tickets: int, step_s: float, torch_encode_per_s: float) -> float:
    """An upper bound of ``train.domain_adaptation``'s time from the probe's step and encoding
    rate: its pool is at most ``steps x batch_size`` tickets; simcse / tsdae run ``steps``
    steps; pseudo embeds the pool and makes one pass over its agreed pairs, each ticket in at
    most one (mutual best matches), so at most pool / batch_size steps (measured: demo 32 of
    that bound's 50, SeaMonkey 8-11 of 34)."""
    if tc.domain_adaptation == "none":
        return 0.0
    pool = min(tickets, tc.domain_adaptation_steps * tc.batch_size)
    if tc.domain_adaptation == "pseudo":
        steps = min(tc.domain_adaptation_steps, math.ceil(pool / tc.batch_size))
        return pool / max(torch_encode_per_s, 1e-6) + steps * step_s
    return tc.domain_adaptation_steps * step_s


def index_from_cache(cfg: Config) -> bool:
    """Whether ``index`` finds its vectors in the run's cache: ``evaluate`` embeds the
    fine-tuned model (the one ``index`` serves after training) with the same encoder and
    long-text reading (both ``index``'s settings)."""
    return "finetuned" in cfg.evaluate.systems


def say_estimate(cfg: Config, run: RunDir, *, force: bool = False, reporter: Reporter) -> None:
    """Before ``train`` in ``ticketsim run``: how long the rest will take (a few seconds' probe).

    Only when training will run (not when its inputs are unchanged) and its inputs exist;
    a failing probe is reported and the stage itself then says what is wrong.
    """
    if not force and run.is_fresh(STAGE, inputs_hash(cfg, run)):
        return
    if run.read_stamp("pairs") is None or not PairsOutput.read(run).train_path.is_file():
        return
    try:
        est = estimate_run(cfg, run)
    except (TicketsimError, OSError, ValueError) as exc:
        reporter.log(f"estimate: not available ({exc})")
        return
    reporter.log(est.line())
