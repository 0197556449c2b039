"""Rich rendering: progress for the library's reporter, stage results, search hits."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ticketsim.cli.common import console, err_console
from ticketsim.evaluation.report import (
    cut,
    headline,
    label_lines,
    ordered_metrics,
    routing_lines,
    routing_table,
    verdict_lines,
)
from ticketsim.evaluation.result import EvaluationResult
from ticketsim.progress import Heartbeat
from ticketsim.rundir import StageResult

T = TypeVar("T")


class RichReporter:
    """Renders library progress as rich progress bars and log lines."""

    def __init__(self, con: Console) -> None:
        self.console = con

    def track(self, items: Iterable[T], total: int | None = None, description: str = "") -> Iterator[T]:
        if total is None and hasattr(items, "__len__"):
            total = len(items)  # type: ignore[arg-type]
        if not self.console.is_terminal and os.environ.get("TICKETSIM_PROGRESS") != "1":
            yield from self._plain(items, total, description)
            return
        with Progress(
            TextColumn("[bold blue]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeRemainingColumn(), console=self.console, transient=True,
            disable=not self.console.is_terminal and os.environ.get("TICKETSIM_PROGRESS") != "1",
        ) as progress:
            task = progress.add_task(description or "working", total=total)
            for item in items:
                yield item
                progress.advance(task)

    def _plain(self, items: Iterable[T], total: int | None, description: str) -> Iterator[T]:
        """No TTY (a log file, CI): a plain line at least every TICKETSIM_PROGRESS_EVERY seconds
        (default 30) from a timer thread, and one at the end of a step that took that long."""
        every = float(os.environ.get("TICKETSIM_PROGRESS_EVERY", "30"))
        beat = Heartbeat(description, total)
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(every):
                self.console.print(beat.line(), highlight=False, soft_wrap=True)

        timer = threading.Thread(target=tick, daemon=True)
        timer.start()
        try:
            for item in items:
                yield item
                beat.done += 1
        finally:
            stop.set()
            timer.join()
        if beat.elapsed() >= every:
            self.console.print(beat.line(), highlight=False, soft_wrap=True)

    def log(self, message: str) -> None:
        self.console.print(f"[dim]{message}[/]")


def reporter() -> RichReporter:
    return RichReporter(err_console)



def show_result(result: StageResult) -> None:
    """Print a stage result: a renderer per stage where one exists, else its key numbers."""
    if result.skipped:
        console.print(f"[yellow]{result.stage}[/]: inputs unchanged, skipped ({result.path})")
    renderer = RENDERERS.get(result.stage)
    if renderer is not None:
        renderer(result)
    elif not result.skipped:
        console.print(f"[green]{result.stage}[/] done: {result.path}")


def _render_ingest(result: StageResult) -> None:
    s = result.summary
    table = Table(title=f"ingest: {s.get('source', '')}", show_header=False)
    table.add_row("rows read", str(s.get("rows_read")))
    table.add_row("rows kept", str(s.get("rows_kept")))
    for reason, n in (s.get("rows_dropped") or {}).items():
        table.add_row(f"dropped: {reason}", str(n))
    table.add_row("ids trimmed", str(s.get("ids_trimmed", 0)))
    cats = s.get("categories") or {}
    table.add_row("categories", f"{len(cats)}" + (
        " (" + ", ".join(f"{k}: {v}" for k, v in list(cats.items())[:8]) + (", ..." if len(cats) > 8
                                                                            else "") + ")"
        if cats else ""))
    links = s.get("links") or {}
    table.add_row("links", ", ".join(f"{k}: {v}" for k, v in links.items()))
    p = s.get("text_words_percentiles") or {}
    table.add_row("text words p50/p95/p99",
                  f"{p.get('p50', 0):.0f} / {p.get('p95', 0):.0f} / {p.get('p99', 0):.0f}")
    table.add_row("looks non-English", f"{100 * s.get('non_english_share', 0):.1f} %")
    console.print(table)
    for warning in s.get("warnings") or []:  # data changed without failing (also in summary.json)
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    if not result.skipped:
        console.print(f"[green]ingest[/] done: {result.path}")


def _render_evaluate(result: StageResult) -> None:
    """Systems table, primary metric first with its bootstrap interval, then the verdict."""
    r = EvaluationResult.from_dict(result.summary)
    if r.cold_start:
        _render_routing(r, result)
        return
    if not r.systems:
        return
    pm, ci = r.primary_metric, r.ci or {}
    table = Table(title=f"evaluate: {r.n_queries} queries (held-out tickets with a known link)")
    table.add_column("system", no_wrap=True)
    names = ordered_metrics(r)
    for m in names:
        table.add_column(m, justify="right", style="bold" if m == pm else None, no_wrap=True)
    first: dict[str, Any] = next(iter((ci.get("per_system") or {}).values()), {})
    conf = first.get("confidence", 0.95)
    table.add_column(f"{pm} {100 * conf:.0f}% CI", justify="right", no_wrap=True)
    table.add_column(f"Δ vs {ci.get('baseline')} [CI]", justify="right", no_wrap=True)
    for name, vals in r.systems.items():
        c = (ci.get("per_system") or {}).get(name) or {}
        dv = (ci.get("vs_baseline") or {}).get(name)
        delta = ""
        if dv:
            colour = "green" if dv["significant"] and dv["diff"] > 0 else (
                "red" if dv["significant"] else "yellow")
            delta = f"[{colour}]" + escape(
                f"{dv['diff']:+.3f} [{dv['low']:+.2f},{dv['high']:+.2f}]") + "[/]"
        table.add_row(name, *[f"{vals[m]:.3f}" for m in names],
                      f"{c.get('low', float('nan')):.2f}-{c.get('high', float('nan')):.2f}", delta)
    console.print(table)
    console.print(r.skipped_sentence, highlight=False)
    console.print(headline(r), highlight=False)
    for line in verdict_lines(r):
        console.print(f"[bold]{escape(line)}[/]", highlight=False)
    for line in routing_lines(r):
        console.print(escape(line), highlight=False)
    if r.thresholds_model:
        dd = r.duplicate[r.thresholds_model]
        console.print(f"thresholds ({r.thresholds_model}): duplicate >= "
                      f"{cut(dd['duplicate_threshold'])}, related >= {dd['related_threshold']:.3f}, "
                      f"AP {dd['average_precision']:.3f}")
        for words in label_lines(r)[1]:
            console.print(f"  {words}", highlight=False, markup=False)
    for note in r.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    console.print(f"report: {result.path / 'report.html'}")


def _render_routing(r: EvaluationResult, result: StageResult) -> None:
    """A cold-start evaluation: routing per system, and what could not be measured."""
    if r.routing:
        table = Table(title="evaluate (cold start): routing, kNN category of held-out tickets")
        header, rows = routing_table(r)
        for col in header:
            table.add_column(col, justify="left" if col in ("system", "field") else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    for note in r.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    console.print(f"report: {result.path / 'report.md'}")


def _render_pairs(result: StageResult) -> None:
    """Counts per source and category, negatives per anchor, negative hardness, examples."""
    s = result.summary
    if not s.get("train"):
        return
    tr = s["train"]
    table = Table(title=f"pairs: {s.get('format')} for the loss, split by {s.get('split_method')}",
                  show_header=False)
    table.add_row("tickets", ", ".join(f"{k} {v}" for k, v in (s.get("tickets") or {}).items()))
    table.add_row("links", ", ".join(f"{k} {v}" for k, v in (s.get("links") or {}).items()))
    table.add_row("training rows", str(tr.get("rows")))
    table.add_row("positives per source", ", ".join(f"{k} {v}" for k, v in tr["per_source"].items()))
    cats = list((tr.get("per_category") or {}).items())
    table.add_row("positives per category", ", ".join(f"{k} {v}" for k, v in cats[:10])
                  + (f", ... ({len(cats)} in all)" if len(cats) > 10 else ""))
    neg = tr.get("negatives")
    if neg:
        table.add_row(f"negatives ({s.get('negative_strategy')})",
                      f"{neg['total']} ({neg['per_anchor_mean']:.2f} per anchor, "
                      f"{neg['anchors_without']} anchors without; "
                      + ", ".join(f"{k} {v}" for k, v in neg["per_source"].items()) + ")")
    if tr.get("dropped_without_negatives"):
        table.add_row("dropped (no negative)", str(tr["dropped_without_negatives"]))
    hard = tr.get("hardness") or {}
    if hard.get("bm25_rank"):
        b = hard["bm25_rank"]
        table.add_row("negative BM25 rank (mean)",
                      f"{b['mined']:.1f} vs {b['random']:.1f} for random negatives "
                      f"(of {hard['corpus']}; lower is harder)")
    if hard.get("model_similarity"):
        m = hard["model_similarity"]
        table.add_row("negative base-model cosine",
                      f"{m['mined']:.3f} vs {m['random']:.3f} for random negatives (higher is harder)")
    v = s.get("validation") or {}
    table.add_row("validation rows", str(v.get("rows", 0)))
    console.print(table)
    for warning in s.get("warnings") or []:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    for source, exs in (tr.get("examples") or {}).items():
        console.print(f"[bold]{escape(source)}[/] examples:")
        for ex in exs:
            console.print(f"  + {escape(ex['anchor'])}\n    ~ {escape(ex['positive'])}"
                          + (f"\n    - {escape(ex['negative'])}" if ex.get("negative") else ""),
                          highlight=False)
    if not result.skipped:
        console.print(f"[green]pairs[/] done: {result.path}")


def _render_train(result: StageResult) -> None:
    """Model, data, speed and loss of a training run, plus the sequence-length verdict."""
    s = result.summary
    if not s:
        return
    table = Table(title=f"train: {s.get('loss')} on {s.get('base_model')}", show_header=False)
    table.add_row("device / precision", f"{s.get('device')} / {s.get('precision')}")
    table.add_row("training rows", str(s.get("train_rows")))
    table.add_row("steps / epochs", f"{s.get('steps')} / {s.get('epochs', 0):.2f}"
                  + (" (resumed)" if s.get("resumed") else ""))
    table.add_row("time", f"{s.get('train_seconds', 0):.0f} s ({s.get('pairs_per_second', 0):.1f} "
                          "pairs/s)")
    table.add_row("final train loss", f"{s.get('train_loss', float('nan')):.4f}")
    table.add_row("max_seq_length", f"{s.get('max_seq_length')} "
                  f"({100 * s.get('truncated_share', 0):.1f} % of texts truncated); the saved "
                  f"model reads {s.get('read_max_seq_length', s.get('max_seq_length'))}")
    table.add_row("trainable parameters", f"{s.get('trainable_parameters', 0):,} "
                  f"({100 * s.get('trainable_share', 0):.2f} %)" + (" LoRA" if s.get("lora") else ""))
    if tb := s.get("time_budget"):
        rate = f", {tb['steps_per_s']:.2f} steps/s measured" if tb.get("steps_per_s") else ""
        table.add_row("time budget", f"{tb['budget']}{rate}: {tb['planned_steps']} of the "
                      f"recipe's {tb['recipe_steps']} steps"
                      + (" (stopped at the budget)" if tb.get("stopped_by_budget") else ""))
    if s.get("final_validation_mrr@10") is not None:
        best = s.get("best_checkpoint")
        table.add_row("validation mrr@10", f"{s['final_validation_mrr@10']:.4f}"
                      + (f" (best: {best})" if best else ""))
    console.print(table)
    if not result.skipped:
        console.print(f"[green]train[/] done: {result.path / 'model'}")


def _render_index(result: StageResult) -> None:
    """Size, backend and timings of the index build."""
    s = result.summary
    if s.get("tickets") is not None:
        console.print(f"index: {s['tickets']} tickets, {s.get('backend')}/{s.get('precision')}, "
                      f"dim {s.get('dim')}, embedded in {s.get('embed_s', 0):.1f} s, "
                      f"built in {s.get('build_s', 0):.1f} s", highlight=False)
        console.print(f"index model: {s.get('model')}", highlight=False, markup=False)
    if not result.skipped:
        console.print(f"[green]index[/] done: {result.path}")


# One renderer per stage, in pipeline order; a stage without one prints its folder.
RENDERERS: dict[str, Callable[[StageResult], None]] = {
    "ingest": _render_ingest, "pairs": _render_pairs, "train": _render_train,
    "evaluate": _render_evaluate, "index": _render_index,
}


def hits_table(hits: list[dict[str, Any]], id_: str | None, query: str | None) -> None:
    table = Table(title=f"closest tickets to {'ticket ' + id_ if id_ else repr(query)}")
    cols = [c for c in dict.fromkeys(c for h in hits for c in h)
            if any(h.get(c) not in (None, "") for h in hits)]  # drop columns empty for every hit
    for h in hits:
        if isinstance(h.get("created"), str):
            h["created"] = h["created"][:10]  # the date is what an agent reads
    for c in cols:
        table.add_column(c, overflow="fold",
                         max_width=50 if c in ("short_description", "resolution_notes") else None)
    for h in hits:
        table.add_row(*["" if h.get(c) is None else f"{h[c]:.3f}" if isinstance(h[c], float)
                        else str(h[c]) for c in cols])
    console.print(table)


def compact_hits(hits: list[dict[str, Any]], id_: str | None, query: str | None) -> None:
    """Narrow terminals (80 columns or less): two lines per hit instead of a wide table."""
    width = console.width
    console.print(f"closest tickets to {'ticket ' + id_ if id_ else repr(query)}", highlight=False)
    for n, h in enumerate(hits, 1):
        head = " ".join(str(x) for x in (
            f"{n:>2}.", h.get("id"), f"{h.get('score', 0):.3f}", h.get("label") or "",
            h.get("category") or "", str(h.get("created") or "")[:10]) if x)
        text = str(h.get("short_description") or h.get("text") or "").replace("\n", " ")
        if len(text) > width - 5:
            text = text[:width - 6] + "…"
        console.print(escape(head), highlight=False)
        console.print("    " + escape(text), highlight=False)
