"""The ``ticketsim`` command line: parse, call the library, print.

Kept thin on purpose: every command loads the config, calls one library function and
renders its result. The commands live in modules by group (``stages``, ``search``,
``label``, ``config_cmd``, ``export``), the rich rendering in ``render``; heavy imports
(sentence-transformers, torch) happen inside the commands that need them, so
``ticketsim --help`` stays instant.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated

import typer

from ticketsim import __version__
from ticketsim.cli.common import STATE, app, console, err_console
from ticketsim.errors import TicketsimError

# Importing a command module registers its commands; the import order is the order of
# `ticketsim --help` (the pipeline first).
# isort: off
from ticketsim.cli import stages, search, export, label, config_cmd  # noqa: E402, F401
# isort: on

__all__ = ["app", "main"]


def _version(value: bool) -> None:
    if value:
        console.print(f"ticketsim {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks on errors.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.",
                                          callback=_version, is_eager=True)] = False,
) -> None:
    STATE["verbose"] = verbose


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
