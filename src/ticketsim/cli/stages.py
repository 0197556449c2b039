"""The pipeline's commands: demo-data, ingest, pairs, train, evaluate, report, index, embed,
run and retrain. Each loads the config, runs its stage, saves the config, renders the result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ticketsim.cli.common import (
    DEFAULT_RUN_DIR,
    ConfigOpt,
    ForceOpt,
    RunDirOpt,
    SetOpt,
    app,
    console,
    load,
    save_config,
)
from ticketsim.cli.render import reporter, show_result
from ticketsim.config import load_config
from ticketsim.rundir import RunDir, StageResult


def _stage(name: str, config: Path | None, overrides: list[str] | None, run_dir: Path,
           force: bool, **options: Any) -> StageResult:
    """Run one stage with its run-time ``options`` (never written to the saved config)."""
    from ticketsim.pipeline import run_stage

    cfg = load(config, overrides, run_dir)
    run = RunDir(run_dir)
    result = run_stage(name, cfg, run, force=force, reporter=reporter(), **options)
    save_config(cfg, run.path)  # only after success: a failed stage never rewrites it
    show_result(result)
    return result



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
    _stage("train", config, set_, run_dir, force, resume=resume)


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
    _stage("evaluate", config, set_, run_dir, force, extra_models=[p.resolve() for p in model or []])


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
          force: ForceOpt = False,
          model: Annotated[str | None, typer.Option(
              "--model", "-m", help="finetuned, base or a model folder instead of the champion's "
              "model (evaluate/champion.json); for this build only.")] = None) -> None:
    """Embed every ticket and build the search index.

    Example: ticketsim index --run-dir runs/demo --model finetuned
    """
    _stage("index", config, set_, run_dir, force, model=model)


@app.command()
def embed(
    config: ConfigOpt = None, set_: SetOpt = None, run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
    address: Annotated[str | None, typer.Option(
        help="Ray cluster address (ray://head:10001 or auto; default: start a local Ray).")] = None,
    workers: Annotated[int, typer.Option(help="Ray actors, each holding one encoder.")] = 2,
    cpus_per_worker: Annotated[int, typer.Option(help="CPUs (threads) per actor.")] = 1,
    model: Annotated[str | None, typer.Option(
        "--model", "-m", help="finetuned, base or a model folder instead of the champion's "
        "model (as index --model; give the index the same).")] = None,
) -> None:
    """Embed every ticket with Ray Data into RUN_DIR/embeddings (shards the index can load).

    Example: ticketsim embed --run-dir runs/big --address ray://head:10001 --workers 16
    then:    ticketsim index --run-dir runs/big --set index.embeddings=runs/big/embeddings
    """
    from ticketsim.index.ray_embed import FOLDER, embed_run

    cfg = load(config, set_, run_dir)
    man = embed_run(cfg, RunDir(run_dir), address=address, num_workers=workers,
                    cpus_per_worker=cpus_per_worker, reporter=reporter(), model=model)
    console.print(f"embed: {man['rows']} tickets, dim {man['dim']}, {len(man['shards'])} shards, "
                  f"{man['embed_s']:.1f} s ({man['tickets_per_s']} tickets/s; Ray start "
                  f"{man['startup_s']:.1f} s)", highlight=False)
    console.print(f"[green]embed[/] done: {Path(run_dir).resolve() / FOLDER} "
                  f"(use it: --set index.embeddings=...)")

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
