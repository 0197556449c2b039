"""Progress reporting without printing: the library reports, the CLI renders.

Library functions take a ``reporter`` argument; the default does nothing, the CLI
passes a rich-backed one, so long work shows a progress bar only where a person
is watching.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

T = TypeVar("T")


class Reporter(Protocol):
    """What a long-running library function may tell its caller."""

    def track(self, items: Iterable[T], total: int | None = None, description: str = "") -> Iterator[T]:
        """Iterate ``items`` while showing progress."""
        ...

    def log(self, message: str) -> None:
        """A one-line status message (stage skipped, file written, ...)."""
        ...


class NullReporter:
    """The library default: silent."""

    def track(self, items: Iterable[T], total: int | None = None, description: str = "") -> Iterator[T]:
        yield from items

    def log(self, message: str) -> None:
        return None


class ListReporter(NullReporter):
    """Collects log lines; handy in tests and for summaries."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def log(self, message: str) -> None:
        self.messages.append(message)


NULL = NullReporter()
