"""Progress reporting without printing: the library reports, the CLI renders.

Library functions take a ``reporter`` argument; the default does nothing, the CLI
passes a rich-backed one, so long work shows a progress bar only where a person
is watching.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any, Protocol, TypeVar

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


def _duration(seconds: float) -> str:
    s = int(round(max(seconds, 0.0)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class Heartbeat:
    """Plain progress lines for logs (no TTY): step, share done, elapsed, remaining.

    The CLI starts one per tracked step and prints :meth:`line` at least every ``every``
    seconds from a timer thread, so a log shows life even while one batch runs long.
    """

    def __init__(self, description: str, total: int | None, clock: Any = None) -> None:
        self.description = description or "working"
        self.total = total
        self.done = 0
        self._clock = clock or time.monotonic
        self.start = self._clock()

    def elapsed(self) -> float:
        return self._clock() - self.start

    def line(self) -> str:
        elapsed = self.elapsed()
        if self.total:
            share = self.done / self.total
            left = elapsed * (1 - share) / share if self.done else None
            return (f"{self.description}: {self.done}/{self.total} ({100 * share:.0f} %), "
                    f"{_duration(elapsed)} elapsed, "
                    + (f"~{_duration(left)} left" if left is not None else "remaining unknown"))
        return f"{self.description}: {self.done} done, {_duration(elapsed)} elapsed"
