"""What evaluate measured, as one typed value: written as ``evaluate/summary.json``.

Its own module so that the stage (which builds it), the report (which renders it) and
the CLI read one definition without importing each other.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ticketsim.errors import TicketsimError
from ticketsim.rundir import RunDir

STAGE = "evaluate"


@dataclasses.dataclass
class EvaluationResult:
    """Everything evaluate measured; every renderer (terminal, markdown, HTML) reads it.

    ``skipped_queries``: held-out tickets that are not queries, each counted once even when
    cross-fitting holds it out in one fold and its links in another (``skipped_reasons``
    says why: mostly held-out tickets without a known link, which have nothing to find).
    """

    primary_metric: str
    metrics: list[str]
    systems: dict[str, dict[str, float]]
    n_queries: int
    n_candidates: int
    encoder: str = "torch"
    encoders: dict[str, str] = dataclasses.field(default_factory=dict)  # model -> backend used
    modes: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    skipped_queries: int = 0
    skipped_reasons: dict[str, int] = dataclasses.field(default_factory=dict)
    ci: dict[str, Any] = dataclasses.field(default_factory=dict)
    primary_system: str | None = None
    time_aware: bool = False
    folds: dict[str, Any] | None = None
    duplicate: dict[str, Any] = dataclasses.field(default_factory=dict)
    thresholds_model: str | None = None
    routing: dict[str, Any] = dataclasses.field(default_factory=dict)
    champion: dict[str, Any] | None = None
    crossfit: dict[str, Any] | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    cold_start: bool = False  # no held-out link: routing only, no systems

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationResult:
        """From ``summary.json`` (unknown keys ignored, missing optional ones defaulted)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def read(cls, run: RunDir, what: str | None = None) -> EvaluationResult:
        """The finished evaluate stage's result (a clear error naming the command when missing)."""
        folder = run.require(STAGE, what)
        try:
            return cls.from_dict(run.summary(STAGE))
        except TypeError:  # no summary.json (a run from before it), or one missing its fields
            raise TicketsimError("the evaluation result is missing or incomplete",
                                 file=folder / "summary.json",
                                 hint=f"rerun `ticketsim evaluate --run-dir {run.path} --force`") from None

    @property
    def skipped_sentence(self) -> str:
        """The skipped count in words: what it counts, and why."""
        if not self.skipped_queries:
            return "no held-out ticket skipped"
        why = ", ".join(f"{k}: {v}" for k, v in self.skipped_reasons.items())
        return (f"{self.skipped_queries} held-out tickets are not queries, each counted once"
                + (f" ({why})" if why else ""))
