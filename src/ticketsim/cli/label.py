"""``ticketsim label ...``: active learning (suggest pairs, import answers, label in the terminal)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ticketsim.cli.common import (
    DEFAULT_RUN_DIR,
    ConfigOpt,
    RunDirOpt,
    SetOpt,
    console,
    label_app,
    load,
)
from ticketsim.cli.render import reporter
from ticketsim.config import Config
from ticketsim.errors import TicketsimError
from ticketsim.runconfig import config_path
from ticketsim.rundir import RunDir

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
    if config is None and not named and config_path(run_dir) is None:
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
    from ticketsim.data.ingest import ticket_ids
    from ticketsim.data.store import LinksStore

    cfg = _label_cfg(config, set_, run_dir, who, writes=True)
    res = import_answers(file, LinksStore(cfg.data.links_store), who=who_answers(cfg.label),
                         known_ids=ticket_ids(RunDir(run_dir)), fmt=fmt)
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


