"""``python -m ticketsim.cli`` (and ``torchrun -m ticketsim.cli``): the console script."""

from __future__ import annotations

from ticketsim.cli import main

main()
