"""``ticketsim config init|show``: write a commented default config, print a validated one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from ticketsim.cli.common import ConfigOpt, ForceOpt, SetOpt, config_app, console
from ticketsim.config import default_config_yaml, load_config
from ticketsim.errors import TicketsimError
from ticketsim.rundir import atomic_write_text


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

