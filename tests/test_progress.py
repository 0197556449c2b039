"""The plain progress line written to logs without a TTY (issue 17, point 5)."""

from __future__ import annotations

from ticketsim.progress import Heartbeat


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_heartbeat_line_gives_step_share_elapsed_and_remaining() -> None:
    clock = Clock()
    beat = Heartbeat("train", 400, clock=clock)
    assert beat.line() == "train: 0/400 (0 %), 0s elapsed, remaining unknown"
    clock.now += 65
    beat.done = 100
    assert beat.line() == "train: 100/400 (25 %), 1m05s elapsed, ~3m15s left"
    clock.now += 3600
    beat.done = 399
    assert beat.line().startswith("train: 399/400 (100 %), 1h01m elapsed, ~")


def test_heartbeat_without_total_counts() -> None:
    clock = Clock()
    beat = Heartbeat("", None, clock=clock)
    beat.done = 7
    clock.now += 31
    assert beat.line() == "working: 7 done, 31s elapsed"
