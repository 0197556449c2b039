"""ticketsim: find the tickets a support team has already seen."""

from __future__ import annotations

__version__ = "0.1.0"
