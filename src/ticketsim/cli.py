"""The ``ticketsim`` command line: parse, call the library, print.

Kept thin on purpose: every command loads the config, calls one library function
and renders its result. Heavy imports (sentence-transformers, torch) happen inside
the commands that need them, so ``ticketsim --help`` stays instant.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ticketsim.config import Config, default_config_yaml, load_config
from ticketsim.errors import TicketsimError
from ticketsim.rundir import RunDir, StageResult, atomic_write_text

T = TypeVar("T")

app = typer.Typer(
    name="ticketsim",
    help="Fine-tune, evaluate and serve similar- and duplicate-ticket search on your ticket history.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Write, show and check configuration files.", no_args_is_help=True)
app.add_typer(config_app, name="config")
label_app = typer.Typer(help="Active learning: suggest pairs to label, import answers, label in the "
                        "terminal.", no_args_is_help=True)
app.add_typer(label_app, name="label")

# Piped output (make demo, CI logs) gets a wide console instead of rich's 80-column default.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=_WIDTH)
STATE: dict[str, Any] = {"verbose": False}

DEFAULT_RUN_DIR = os.environ.get("TICKETSIM_RUN_DIR", "runs/default")

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config (default: the run dir's config).")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a key: section.key=value (repeatable)."),
]
RunDirOpt = Annotated[Path, typer.Option("--run-dir", "-r", help="Run directory of artifacts.")]
ForceOpt = Annotated[bool, typer.Option("--force", "-f", help="Redo even if inputs are unchanged.")]


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
        import threading

        from ticketsim.progress import Heartbeat

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


def load(config: Path | None, overrides: list[str] | None, run_dir: Path | None) -> Config:
    """Config from -c, else the run directory's saved config, else defaults; then --set."""
    if config is None and run_dir is not None and (run_dir / "config.yaml").is_file():
        config = run_dir / "config.yaml"
    return load_config(config, overrides)


def save_config(cfg: Config, run_dir: Path) -> None:
    """Record the exact config a run used in the run directory, once a stage has succeeded.

    Paths inside the run and the links store are written relative to the run directory
    (where this config.yaml lives), so a copied or moved run uses its own model, index and
    store; other paths (the export) stay absolute.
    """
    from ticketsim.config import relative_paths

    tree = relative_paths(cfg, Path(run_dir).resolve())
    atomic_write_text(Path(run_dir) / "config.yaml", yaml.safe_dump(tree, sort_keys=False))


def _stage(name: str, config: Path | None, overrides: list[str] | None, run_dir: Path,
           force: bool) -> StageResult:
    from ticketsim.pipeline import run_stage

    cfg = load(config, overrides, run_dir)
    run = RunDir(run_dir)
    result = run_stage(name, cfg, run, force=force, reporter=reporter())
    save_config(cfg, run.path)  # only after success: a failed stage never rewrites it
    show_result(result)
    return result


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
    from rich.markup import escape

    for warning in s.get("warnings") or []:  # data changed without failing (also in summary.json)
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    if not result.skipped:
        console.print(f"[green]ingest[/] done: {result.path}")


def _render_evaluate(result: StageResult) -> None:
    """Systems table, primary metric first with its bootstrap interval, then the verdict."""
    s = result.summary
    if s.get("cold_start"):
        _render_routing(result)
        return
    if not s.get("systems"):
        return
    from rich.markup import escape

    from ticketsim.evaluation.report import (
        cut,
        headline,
        label_lines,
        ordered_metrics,
        verdict_lines,
    )

    pm = s["primary_metric"]
    ci = s.get("ci") or {}
    table = Table(title=f"evaluate: {s.get('n_queries')} held-out queries, "
                        f"{s.get('skipped_queries', 0)} skipped")
    table.add_column("system", no_wrap=True)
    names = ordered_metrics(s)
    for m in names:
        table.add_column(m, justify="right", style="bold" if m == pm else None, no_wrap=True)
    first: dict[str, Any] = next(iter((ci.get("per_system") or {}).values()), {})
    conf = first.get("confidence", 0.95)
    table.add_column(f"{pm} {100 * conf:.0f}% CI", justify="right", no_wrap=True)
    table.add_column(f"Δ vs {ci.get('baseline')} [CI]", justify="right", no_wrap=True)
    for name, vals in s["systems"].items():
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
    console.print(headline(s), highlight=False)
    for line in verdict_lines(s):
        console.print(f"[bold]{escape(line)}[/]", highlight=False)
    if s.get("thresholds_model"):
        dd = s["duplicate"][s["thresholds_model"]]
        console.print(f"thresholds ({s['thresholds_model']}): duplicate >= "
                      f"{cut(dd['duplicate_threshold'])}, related >= {dd['related_threshold']:.3f}, "
                      f"AP {dd['average_precision']:.3f}")
        for words in label_lines(s)[1]:
            console.print(f"  {words}", highlight=False, markup=False)
    for note in s.get("notes") or []:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    console.print(f"report: {result.path / 'report.html'}")


def _render_routing(result: StageResult) -> None:
    """A cold-start evaluation: routing per system, and what could not be measured."""
    s = result.summary
    route = s.get("routing") or {}
    if route:
        table = Table(title="evaluate (cold start): routing, kNN category of held-out tickets")
        for col in ("system", "field", "accuracy", "macro-F1", "n"):
            table.add_column(col, justify="left" if col in ("system", "field") else "right")
        for name, per in route.items():
            for field, v in per.items():
                table.add_row(name, field, f"{v['accuracy']:.3f}", f"{v['macro_f1']:.3f}",
                              str(v["n"]))
        console.print(table)
    for note in s.get("notes") or []:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    console.print(f"report: {result.path / 'report.md'}")


def _render_pairs(result: StageResult) -> None:
    """Counts per source and category, negatives per anchor, negative hardness, examples."""
    from rich.markup import escape

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


RENDERERS: dict[str, Any] = {"ingest": _render_ingest, "evaluate": _render_evaluate,
                             "pairs": _render_pairs}


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
                  f"({100 * s.get('truncated_share', 0):.1f} % of texts truncated)")
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


RENDERERS["train"] = _render_train


def _render_index(result: StageResult) -> None:
    """Size, backend and timings of the index build."""
    s = result.summary
    if s.get("tickets") is not None:
        console.print(f"index: {s['tickets']} tickets, {s.get('backend')}/{s.get('precision')}, "
                      f"dim {s.get('dim')}, embedded in {s.get('embed_s', 0):.1f} s, "
                      f"built in {s.get('build_s', 0):.1f} s", highlight=False)
    if not result.skipped:
        console.print(f"[green]index[/] done: {result.path}")


RENDERERS["index"] = _render_index


# ------------------------------------------------------------------------ commands
def _version(value: bool) -> None:
    if value:
        from ticketsim import __version__

        console.print(f"ticketsim {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks on errors.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.",
                                          callback=_version, is_eager=True)] = False,
) -> None:
    STATE["verbose"] = verbose


@config_app.command("init")
def config_init(
    path: Annotated[Path, typer.Argument(help="Where to write the config.")] = Path("ticketsim.yaml"),
    force: ForceOpt = False,
) -> None:
    """Write a commented default config.

    Example: ticketsim config init my-desk.yaml
    """
    if path.exists() and not force:
        raise TicketsimError(f"{path} exists", hint="use --force to overwrite")
    atomic_write_text(path, default_config_yaml())
    console.print(f"wrote {path}")


@config_app.command("show")
def config_show(config: ConfigOpt = None, set_: SetOpt = None) -> None:
    """Validate a config and print it with every default filled in.

    Example: ticketsim config show -c my-desk.yaml --set train.learning_rate=5e-5
    """
    cfg = load_config(config, set_)
    console.print(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), end="")


@app.command("demo-data")
def demo_data(
    out: Annotated[Path, typer.Argument(help="Folder for tickets.csv, links.json, truth.json.")],
    tickets: Annotated[int, typer.Option("--tickets", "-n", help="Number of tickets.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 0,
) -> None:
    """Generate the demo IT service-desk history.

    Example: ticketsim demo-data runs/demo/data --tickets 2000 --seed 0
    """
    from ticketsim.data.demo import generate_demo

    summary = generate_demo(out, n_tickets=tickets, seed=seed)
    console.print(f"wrote demo data to {out}: {summary}")


@app.command()
def ingest(config: ConfigOpt = None, set_: SetOpt = None, run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
           force: ForceOpt = False) -> None:
    """Read the ticket export and known links into the run directory.

    Example: ticketsim ingest -c configs/seamonkey.yaml --run-dir runs/seamonkey
    """
    _stage("ingest", config, set_, run_dir, force)


@app.command()
def pairs(config: ConfigOpt = None, set_: SetOpt = None, run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
          force: ForceOpt = False) -> None:
    """Build the leakage-safe split and the training pairs.

    Example: ticketsim pairs -c configs/demo.yaml --run-dir runs/demo
    """
    _stage("pairs", config, set_, run_dir, force)


@app.command()
def train(config: ConfigOpt = None, set_: SetOpt = None, run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
          force: ForceOpt = False,
          resume: Annotated[bool, typer.Option(
              "--resume", help="Continue a killed run from its last checkpoint (same config).")
          ] = False) -> None:
    """Fine-tune the embedding model with sentence-transformers' trainer.

    Example: ticketsim train -c configs/demo.yaml --run-dir runs/demo --resume
    """
    if not resume:
        _stage("train", config, set_, run_dir, force)
        return
    from ticketsim.training.stage import run_train

    cfg = load(config, set_, run_dir)
    run = RunDir(run_dir)
    result = run_train(cfg, run, force=force, reporter=reporter(), resume=True)
    save_config(cfg, run.path)
    show_result(result)


@app.command()
def evaluate(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
    force: ForceOpt = False,
    model: Annotated[
        list[Path] | None,
        typer.Option("--model", "-m", help="A further model folder to compare (repeatable)."),
    ] = None,
) -> None:
    """Compare BM25, the base model, the fine-tuned model and hybrid search on held-out links.

    Example: ticketsim evaluate --run-dir runs/demo --model ../other-model
    """
    from ticketsim.pipeline import run_stage

    cfg = load(config, set_, run_dir)
    if model:
        cfg.evaluate.extra_models = [*cfg.evaluate.extra_models, *(p.resolve() for p in model)]
    run = RunDir(run_dir)
    result = run_stage("evaluate", cfg, run, force=force, reporter=reporter())
    save_config(cfg, run.path)
    show_result(result)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="Run directory with a finished evaluate stage.")],
) -> None:
    """Regenerate report.md, report.html and the plots from the evaluation results.

    Example: ticketsim report runs/demo
    """
    from ticketsim.evaluation.report import regenerate_report

    path = regenerate_report(run_dir, reporter=reporter())
    console.print(f"wrote {path}")


@app.command()
def index(config: ConfigOpt = None, set_: SetOpt = None, run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
          force: ForceOpt = False) -> None:
    """Embed every ticket and build the search index.

    Example: ticketsim index --run-dir runs/demo
    """
    _stage("index", config, set_, run_dir, force)


@app.command()
def embed(
    config: ConfigOpt = None, set_: SetOpt = None, run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
    address: Annotated[str | None, typer.Option(
        help="Ray cluster address (ray://head:10001 or auto; default: start a local Ray).")] = None,
    workers: Annotated[int, typer.Option(help="Ray actors, each holding one encoder.")] = 2,
    cpus_per_worker: Annotated[int, typer.Option(help="CPUs (threads) per actor.")] = 1,
) -> None:
    """Embed every ticket with Ray Data into RUN_DIR/embeddings (shards the index can load).

    Example: ticketsim embed --run-dir runs/big --address ray://head:10001 --workers 16
    then:    ticketsim index --run-dir runs/big --set index.embeddings=runs/big/embeddings
    """
    from ticketsim.index.ray_embed import embed_run

    cfg = load(config, set_, run_dir)
    man = embed_run(cfg, RunDir(run_dir), address=address, num_workers=workers,
                    cpus_per_worker=cpus_per_worker, reporter=reporter())
    console.print(f"embed: {man['rows']} tickets, dim {man['dim']}, {len(man['shards'])} shards, "
                  f"{man['embed_s']:.1f} s ({man['tickets_per_s']} tickets/s; Ray start "
                  f"{man['startup_s']:.1f} s)", highlight=False)
    console.print(f"[green]embed[/] done: {Path(run_dir).resolve() / 'embeddings'} "
                  f"(use it: --set index.embeddings=...)")


def _filters(category: list[str] | None, status: list[str] | None, since: str | None,
             until: str | None, exclude: list[str] | None) -> dict[str, Any]:
    f: dict[str, Any] = {"category": category or None, "status": status or None,
                         "created_from": since, "created_to": until, "exclude_ids": exclude or None}
    return {k: v for k, v in f.items() if v}


CategoryOpt = Annotated[list[str] | None, typer.Option("--category", help="Only this category "
                                                       "(repeatable).")]
StatusOpt = Annotated[list[str] | None, typer.Option("--status", help="Only this status (repeatable).")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Created on/after (ISO date).")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Created before (ISO date).")]
ExcludeOpt = Annotated[list[str] | None, typer.Option("--exclude", help="Leave out this id (repeatable).")]


@app.command()
def search(
    query: Annotated[str | None, typer.Argument(help="Ticket text to search for.")] = None,
    id_: Annotated[str | None, typer.Option("--id", help="Search with an existing ticket.")] = None,
    k: Annotated[int | None, typer.Option("--k", "-k", help="Results to show.")] = None,
    mode: Annotated[str | None, typer.Option(help="dense, keyword or hybrid (default: the "
                                                  "champion's, evaluate/champion.json; "
                                                  "search.mode when set).")] = None,
    category: CategoryOpt = None,
    status: StatusOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    exclude: ExcludeOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Find the closest past tickets to a text or to a ticket id.

    Example: ticketsim search --run-dir runs/demo "vpn keeps disconnecting" --status open
    """
    from ticketsim.service.schemas import validate_search

    if (query is None) == (id_ is None):
        raise TicketsimError("give either a query text or --id TICKET")
    cfg = load(config, set_, run_dir)
    # the API's own request model: same rules for k, empty text and dates as POST /search
    req = validate_search(cfg.serve, text=query, ticket_id=id_, k=k, mode=mode,
                          filters=_filters(category, status, since, until, exclude))
    filters = req.filters.to_dict() if req.filters is not None else None  # type: ignore[attr-defined]
    from ticketsim.index.base import Filters
    from ticketsim.index.search import Searcher

    searcher = Searcher(RunDir(run_dir), cfg, reporter=reporter())  # warnings (a rebuilt ANN file)
    try:
        found = searcher.search(query, ticket_id=id_, k=req.k or cfg.search.k,  # type: ignore[attr-defined]
                                filters=filters, mode=mode)
        hits = [h.to_dict() for h in found]
        routing = searcher.route(query) if query is not None and not as_json else None
        meaning = searcher.label_meaning() or {}
        unmatched = (searcher.index.store.unmatched_filters(Filters.coerce(filters))
                     if not hits and filters else [])
    finally:
        searcher.close()
    if unmatched:
        raise TicketsimError("; ".join(unmatched), hint="filter values match case-insensitively")
    if as_json:
        print(json.dumps(hits, default=str, indent=2))
        return
    if routing:  # suggested routing of the pasted ticket (index.routing)
        console.print("suggested routing: " + " · ".join(
            f"{f.replace('_', ' ')} {v['value']} ({v['probability']:.0%})" for f, v in routing.items()),
            highlight=False, markup=False)
    if not hits:
        console.print("no results")
        return
    if console.width <= 80:
        _compact_hits(hits, id_, query)
    else:
        _hits_table(hits, id_, query)
    for label in dict.fromkeys(h["label"] for h in hits if h.get("label")):
        console.print(meaning.get(label, ""), markup=False, highlight=False)  # what a label is worth
    from ticketsim.evaluation import champion

    champ = champion.load(run_dir)
    if champ and mode is None and "mode" not in cfg.search.model_fields_set:
        console.print(champ["sentence"], style="dim", markup=False, highlight=False)


def _hits_table(hits: list[dict[str, Any]], id_: str | None, query: str | None) -> None:
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


def _compact_hits(hits: list[dict[str, Any]], id_: str | None, query: str | None) -> None:
    """Narrow terminals (80 columns or less): two lines per hit instead of a wide table."""
    from rich.markup import escape

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


@app.command()
def dedup(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for dedup.csv and "
                                             "dedup.json (default: <run dir>/dedup).")] = None,
    threshold: Annotated[float | None, typer.Option(help="Cosine at or above which two tickets "
                                                    "are duplicates (default: thresholds.json).")
                         ] = None,
    neighbours: Annotated[int, typer.Option(help="Nearest tickets compared per ticket.")] = 10,
    min_size: Annotated[int | None, typer.Option(help="Smallest cluster (default: "
                                                 "search.dedup_min_size).")] = None,
    all_tickets: Annotated[bool, typer.Option("--all", help="Every ticket, not only open ones.")
                           ] = False,
    category: CategoryOpt = None,
    status: StatusOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
) -> None:
    """Group the open tickets (or any filter) into likely-duplicate clusters for review.

    Example: ticketsim dedup --run-dir runs/demo --status open --status new
    """
    from ticketsim.index.dedup import find_clusters, write_clusters
    from ticketsim.index.search import Searcher

    cfg = load(config, set_, run_dir)
    if not (status or all_tickets):
        status = ["open"]
    searcher = Searcher(RunDir(run_dir), cfg, reporter=reporter())
    try:
        result = find_clusters(searcher, _filters(category, status, since, until, None),
                               threshold=threshold, min_size=min_size, neighbours=neighbours,
                               reporter=reporter())
    finally:
        searcher.close()
    csv_path, json_path = write_clusters(result, out or Path(run_dir) / "dedup")
    console.print(f"{len(result['clusters'])} clusters of likely duplicates among "
                  f"{result['selected']} tickets (cosine >= {result['threshold']:.3f})")
    for c in result["clusters"][:10]:
        console.print(f"  #{c['cluster']} ({c['size']}): " + ", ".join(
            f"{t['id']} {str(t.get('short_description', ''))[:40]!r}" for t in c["tickets"][:4]),
            highlight=False)
    console.print(f"wrote {csv_path} and {json_path}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: serve.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: serve.port).")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
) -> None:
    """Serve the REST API and the web page over the run's index (needs the service extra).

    Example: ticketsim serve --run-dir runs/demo --port 8000   (then open http://127.0.0.1:8000/)
    """
    try:
        import uvicorn
    except ImportError:
        raise TicketsimError("the service needs uvicorn and fastapi",
                             hint="pip install 'ticketsim[service]'") from None
    from ticketsim.service.app import create_app, server_config

    cfg = load(config, [*(set_ or []),
                        *([f"serve.host={host}"] if host else []),
                        *([f"serve.port={port}"] if port else [])], run_dir)
    app_ = create_app(RunDir(run_dir), cfg, reporter=reporter())
    key = "required" if app_.state.api_key_required else f"off (set {cfg.serve.api_key_env} to require one)"
    err_console.print(f"serving {run_dir} on http://{cfg.serve.host}:{cfg.serve.port}/ "
                      f"(API docs /docs; API key {key})", highlight=False)
    uvicorn.Server(server_config(app_, cfg)).run()


@app.command("run")
def run_pipeline(
    config: Annotated[Path, typer.Argument(help="YAML config of the run.")],
    set_: SetOpt = None,
    run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
    force: ForceOpt = False,
) -> None:
    """Run every stage in order: ingest, pairs, train, evaluate, index.

    Example: ticketsim run configs/demo.yaml --run-dir runs/demo
    """
    from ticketsim.evaluation.coldstart import labelling_hint
    from ticketsim.pipeline import cold_start_plan, run_all

    cfg = load_config(config, set_)
    run = RunDir(run_dir)
    cold: list[str] = []

    def done(result: StageResult) -> None:
        save_config(cfg, run.path)  # after each success: a failed stage never rewrites it
        show_result(result)
        if result.stage == "ingest":
            cold.extend(cold_start_plan(result.summary))
            for line in cold:  # said up front, before minutes of training
                console.print(f"[yellow]cold start:[/] {line}", highlight=False)

    run_all(cfg, run, force=force, reporter=reporter(), on_done=done)
    if cold:
        console.print(f"next: {labelling_hint(str(run_dir))}", highlight=False, soft_wrap=True)


@app.command("export-onnx")
def export_onnx_cmd(
    model_dir: Annotated[str, typer.Argument(help="sentence-transformers folder (or 'default').")],
    out_dir: Annotated[Path, typer.Argument(help="Folder for model.onnx, tokenizer and meta.")],
    int8: Annotated[bool, typer.Option("--int8", help="Also write the int8 quantised graph.")] = False,
    optimize: Annotated[bool, typer.Option(help="Fuse BERT subgraphs with onnxruntime.")] = True,
    fp32_ffn_layers: Annotated[int, typer.Option(
        help="int8: leading layers whose FFN output stays fp32 (-1: all; more is closer, slower)."
    )] = 2,
) -> None:
    """Export a model to ONNX (and int8 ONNX) for the fast CPU backends.

    Example: ticketsim export-onnx runs/demo/train/model runs/demo/onnx --int8
    """
    from ticketsim.inference.export import export_onnx

    result = export_onnx(model_dir, out_dir, int8=int8, optimize=optimize,
                         fp32_ffn_layers=fp32_ffn_layers, reporter=reporter())
    table = Table(title=f"ONNX export: {result.out_dir}")
    for col in ("graph", "file", "MB", "cosine to torch (mean / min)"):
        table.add_column(col)
    for kind, name in result.files.items():
        agree = result.meta["agreement_with_torch"][kind]
        size = (result.out_dir / name).stat().st_size / 1e6
        table.add_row(kind, name, f"{size:.0f}",
                      f"{agree['cosine_mean']:.4f} / {agree['cosine_min']:.4f}")
    console.print(table)


# ------------------------------------------------------------------ active learning
StrategyOpt = Annotated[str | None, typer.Option(
    "--strategy", help="uncertainty, disagreement, diversity or random (default: label.strategy).")]
NOpt = Annotated[int | None, typer.Option("--n", "-n", help="Pairs to ask about (default: label.n).")]
WhoOpt = Annotated[str | None, typer.Option("--who", help="Who answers (default: label.who, "
                                            "else $USER).")]


def _label_cfg(config: Path | None, set_: list[str] | None, run_dir: Path,
               who: str | None = None, writes: bool = False) -> Config:
    if writes:
        _require_label_target(config, set_, run_dir)
    cfg = load(config, set_, run_dir)
    if who:
        cfg.label.who = who
    return cfg


def _require_label_target(config: Path | None, set_: list[str] | None, run_dir: Path) -> None:
    """Labels go to the run's links store: without a run (or a config or --set naming the
    store) they would land in a fresh store no run reads, so say so instead (issue 17)."""
    named = any(s.split("=", 1)[0].strip() == "data.links_store" for s in set_ or [])
    if config is None and not named and not (Path(run_dir) / "config.yaml").is_file():
        raise TicketsimError(
            f"{run_dir} is not a run directory (no config.yaml), so there is no links store "
            "to write labels to",
            hint="give --run-dir of a run made by `ticketsim run CONFIG --run-dir DIR`, or -c "
            "CONFIG naming data.links_store")


@label_app.command("suggest")
def label_suggest(
    out: Annotated[Path, typer.Option("--out", "-o", help="Export file (.csv or .jsonl).")
                   ] = Path("label-suggestions.csv"),
    n: NOpt = None,
    strategy: StrategyOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="auto (from the extension), csv or jsonl.")
                   ] = "auto",
    config: ConfigOpt = None,
    set_: SetOpt = None,
    run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
) -> None:
    """Export the pairs a person should label next, for a spreadsheet (fill the answer column).

    Example: ticketsim label suggest --run-dir runs/demo --n 50 --strategy uncertainty -o todo.csv
    """
    from ticketsim.active.suggest import suggest_to_file

    if fmt not in ("auto", "csv", "jsonl"):
        raise TicketsimError(f"unknown format '{fmt}'", field="--format", hint="use csv or jsonl")
    cfg = _label_cfg(config, set_, run_dir)
    path, s = suggest_to_file(cfg, RunDir(run_dir), out, n=n, strategy=strategy, fmt=fmt,
                              reporter=reporter())
    console.print(f"wrote {len(s.rows)} pairs ({s.strategy}, from {len(s.pool)} candidates) to "
                  f"{path}; fill the answer column with duplicate / related / not related, then "
                  f"`ticketsim label import {path} --run-dir {run_dir}`", highlight=False)


@label_app.command("import")
def label_import(
    file: Annotated[Path, typer.Argument(help="A filled-in export (.csv or .jsonl).")],
    who: WhoOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="auto, csv or jsonl.")] = "auto",
    config: ConfigOpt = None,
    set_: SetOpt = None,
    run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
) -> None:
    """Validate a filled-in export and add its answers to the links store.

    Example: ticketsim label import todo.csv --run-dir runs/demo --who alice
    """
    from ticketsim.active.exchange import import_answers
    from ticketsim.active.suggest import who_answers
    from ticketsim.data.store import LinksStore

    cfg = _label_cfg(config, set_, run_dir, who, writes=True)
    known = None
    tickets = Path(run_dir) / "ingest" / "tickets.parquet"
    if tickets.is_file():
        import pandas as pd

        known = set(pd.read_parquet(tickets, columns=["id"])["id"].astype(str))
    res = import_answers(file, LinksStore(cfg.data.links_store), who=who_answers(cfg.label),
                         known_ids=known, fmt=fmt)
    console.print(f"{file}: {res.added} answers added, {res.unchanged} already known, "
                  f"{res.unanswered} left blank", highlight=False)
    for a, b, old, new in res.conflicts:
        console.print(f"[yellow]conflict:[/] {a} / {b} was {old}, now {new} (both kept; the newest "
                      "wins in the next run)", highlight=False)


@label_app.command("session")
def label_session(
    n: NOpt = None,
    strategy: StrategyOpt = None,
    who: WhoOpt = None,
    plain: Annotated[bool, typer.Option("--plain", help="Plain text instead of side-by-side "
                                        "panels.")] = False,
    new: Annotated[bool, typer.Option("--new", help="Start a new batch even if one is "
                                      "unfinished.")] = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
) -> None:
    """Label pairs in the terminal: d duplicate, r related, n not related, s skip, q quit.

    Each answer is saved at once; quit (or a crash) and run it again to resume.
    Example: ticketsim label session --run-dir runs/demo --n 20
    """
    from ticketsim.active.session import LabelSession, open_session
    from ticketsim.active.suggest import who_answers
    from ticketsim.data.store import LinksStore

    cfg = _label_cfg(config, set_, run_dir, who, writes=True)
    rows, folder, resumed = open_session(cfg, RunDir(run_dir), n=n, strategy=strategy, new=new,
                                         reporter=reporter())
    console.print(("resuming" if resumed else "new batch of") + f" {len(rows)} pairs", highlight=False)
    s = LabelSession(LinksStore(cfg.data.links_store), rows, folder, who=who_answers(cfg.label),
                     console=console, plain=plain).run()
    counts = ", ".join(f"{k} {v}" for k, v in s.counts.items()) or "nothing"
    console.print(f"{s.answered} answers saved, {s.skipped} skipped ({counts}); "
                  f"{s.remaining} left" + (" (run again to resume)" if s.remaining else ""),
                  highlight=False)


@label_app.command("conflicts")
def label_conflicts(config: ConfigOpt = None, set_: SetOpt = None,
                    run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR)) -> None:
    """List pairs that received different labels over time (the newest wins in a run).

    Example: ticketsim label conflicts --run-dir runs/demo
    """
    from ticketsim.data.store import LinksStore

    cfg = load(config, set_, run_dir)
    df = LinksStore(cfg.data.links_store).conflicts()
    if df.empty:
        console.print("no conflicting labels")
        return
    table = Table(title=f"{df.groupby(['a', 'b']).ngroups} pairs with conflicting labels")
    for c in ("a", "b", "label", "kind", "source", "who", "at"):
        table.add_column(c)
    for r in df.itertuples(index=False):
        table.add_row(*[str(getattr(r, c)) for c in ("a", "b", "label", "kind", "source", "who", "at")])
    console.print(table)


@app.command()
def retrain(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="New run directory (default: "
                                             "retrain in --run-dir itself).")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
) -> None:
    """Fine-tune from the run's current model on the enlarged links (ingest -> ... -> index).

    Example: ticketsim retrain --run-dir runs/demo --out runs/demo-round2
    """
    from ticketsim.active.retrain import retrain as do_retrain

    cfg = load(config, set_, run_dir)
    target = RunDir(out) if out else RunDir(run_dir)
    res = do_retrain(cfg, RunDir(run_dir), target, reporter=reporter(), on_done=show_result,
                     before_run=lambda c: save_config(c, target.path))
    console.print(f"retrained from {res.base_model} into {target.path}", highlight=False)


def quiet_libraries() -> None:
    """Silence progress bars that are not ours (transformers' "Loading weights", datasets'
    map, sentence-transformers' tqdm): ticketsim reports its own steps (RichReporter)."""
    for var in ("HF_DATASETS_DISABLE_PROGRESS_BARS", "TQDM_DISABLE"):
        os.environ.setdefault(var, "1")


def main() -> None:
    """Console-script entry point: one clear line and exit 2 for user errors."""
    quiet_libraries()
    try:
        app(standalone_mode=False, prog_name="ticketsim")
    except TicketsimError as err:
        if STATE["verbose"]:
            traceback.print_exc()
        err_console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors and the unexpected
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # typer's click errors
            if not exc.format_message():  # no arguments at all: the help was shown
                sys.exit(0)
            ctx = getattr(exc, "ctx", None)
            where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            err_console.print(f"[bold red]error:[/] {exc.format_message()}{where}",
                              highlight=False, soft_wrap=True)
            sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
        if STATE["verbose"]:
            traceback.print_exc()
        err_console.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc} "
                          "(rerun with --verbose for the traceback)", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
