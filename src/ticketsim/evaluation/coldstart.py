"""Cold start: a run with no held-out link still evaluates what it can.

With no known links (a new team's first day) link retrieval, duplicate thresholds and the
champion cannot be measured. Routing can, when tickets carry a category: the kNN category
of held-out tickets under BM25, the base model and the fine-tuned model. This module
writes that routing-only result (``cold_start: true``, empty ``systems``) and a
short report instead of stopping the pipeline, so ``ticketsim run`` still builds an index
and the team can start labelling (docs/active_learning.md, README "No links yet").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ticketsim.config import Config
from ticketsim.evaluation import routing
from ticketsim.evaluation.dense import DenseScorer, resolve_encoder
from ticketsim.evaluation.report import md_table, routing_table
from ticketsim.evaluation.result import EvaluationResult
from ticketsim.inference import encoder_for
from ticketsim.models import resolve_model
from ticketsim.progress import NULL, Reporter
from ticketsim.retrieval.keyword import KeywordRows
from ticketsim.rundir import Output, RunDir, atomic_write_text
from ticketsim.training.stage import TrainOutput

NO_LINKS_NOTE = ("link retrieval skipped: no held-out ticket has a known link, so MRR, recall "
                 "and duplicate thresholds cannot be measured yet (cold start)")


def labelling_hint(run_dir: str) -> str:
    """The commands that turn a cold-start run into one with links (complete, with --run-dir)."""
    return (f"collect links: `ticketsim label session --run-dir {run_dir}` (or `ticketsim serve "
            f"--run-dir {run_dir}` and answer duplicate / not on the page), then "
            f"`ticketsim retrain --run-dir {run_dir}`")


def evaluate_routing_only(cfg: Config, run: RunDir, d: Any, *,
                          reporter: Reporter = NULL) -> Output:
    """Routing of held-out tickets per system; the result says what could not be measured."""
    ev = cfg.evaluate
    notes = [NO_LINKS_NOTE]
    scorers: dict[str, Any] = {}
    if "bm25" in ev.systems or "hybrid" in ev.systems:
        scorers["bm25"] = KeywordRows(d.texts)
    dense: list[tuple[str, str]] = []
    if "base" in ev.systems:
        dense.append(("base", resolve_model(cfg.train.base_model)))
    trained = TrainOutput.find(run)
    if "finetuned" in ev.systems and trained is not None and trained.model_dir is not None:
        dense.append(("finetuned", str(trained.model_dir)))
    encoders: dict[str, str] = {}
    for name, path in dense:
        backend = encoders[name] = resolve_encoder(cfg, run, path, d.texts, notes, name, reporter)
        enc = encoder_for(path, backend, cache_dir=run.path / "cache", **cfg.index.reading(),
                          reporter=reporter)
        reporter.log(f"evaluate: embedding {len(d.texts)} tickets with {name} ({backend})")
        scorers[name] = DenseScorer(name, enc.encode(d.texts, ev.batch_size, reporter), path)
    fields = {f: d.tickets[f].fillna("").astype(str).to_numpy(dtype=object)
              for f in routing.routing_fields(list(d.tickets.columns), ev.routing.fields)}
    split = routing.capped_split(d.split, ev.routing.max_tickets, ev.routing.seed)
    route = routing.paired_vs_base(
        {name: r for name, s in scorers.items()
         if (r := routing.evaluate_routing(s, split, fields, ev.routing.k))},
        ev.bootstrap.samples, ev.bootstrap.seed, ev.bootstrap.confidence)
    if not route:
        notes.append("routing skipped: no held-out ticket has a category, so nothing can be "
                     "measured until links exist")
    skipped = {reason: len(ids) for reason, ids in d.skipped.items()}
    result = EvaluationResult(
        primary_metric=ev.primary_metric, encoder=cfg.index.encoder, metrics=[], systems={},
        n_queries=0, n_candidates=d.n - 1, skipped_queries=sum(skipped.values()),
        skipped_reasons=skipped, encoders=encoders, cold_start=True, routing=route, notes=notes)
    lines = ["# ticketsim evaluation (cold start)", "", *[f"- {n}" for n in notes], ""]
    if route:
        lines += ["## Routing (kNN category of held-out tickets)", "",
                  *md_table(routing_table(result))]
    lines += ["", "Next: " + labelling_hint(str(run.path))]
    reporter.log("evaluate: cold start, routing only")

    def save(tmp: Path) -> None:
        atomic_write_text(tmp / "report.md", "\n".join(lines) + "\n")

    return Output(result.to_dict(), save)
