"""Duplicate / related decision thresholds and the calibrated probability, as one small file.

``evaluate`` fits them on held-out labelled pairs and writes ``evaluate/thresholds.json``;
search, the service and active learning read them, so "duplicate" means the same
thing everywhere, and refuse them when they belong to another model.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ticketsim.errors import TicketsimError
from ticketsim.rundir import atomic_write_json

FILE = "thresholds.json"


@dataclass
class Thresholds:
    """Cosine thresholds plus a Platt calibration ``p = 1 / (1 + exp(-(a * score + b)))``."""

    model_fingerprint: str
    duplicate: float
    related: float
    calib_a: float = 10.0
    calib_b: float = -8.0
    model_path: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def probability(self, score: float) -> float:
        """Calibrated probability that a pair with this similarity is a duplicate."""
        z = self.calib_a * float(score) + self.calib_b
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def label(self, score: float) -> str:
        """duplicate / related / unrelated for a similarity score."""
        if score >= self.duplicate:
            return "duplicate"
        if score >= self.related:
            return "related"
        return "unrelated"

    def save(self, path: str | Path) -> None:
        atomic_write_json(path, asdict(self))

    @classmethod
    def load(cls, path: str | Path, expect_fingerprint: str | None = None) -> Thresholds:
        p = Path(path)
        try:
            data = json.loads(p.read_text())
            th = cls(**data)
        except (OSError, json.JSONDecodeError, TypeError) as exc:
            raise TicketsimError(f"cannot read thresholds: {exc}", file=p,
                                 hint=f"rerun `ticketsim evaluate --run-dir {p.parent.parent}`") from None
        if expect_fingerprint is not None and th.model_fingerprint != expect_fingerprint:
            raise TicketsimError(
                "thresholds belong to another model "
                f"({th.model_fingerprint} != {expect_fingerprint})", file=p,
                hint=f"rerun `ticketsim evaluate --run-dir {p.parent.parent}` for the current model",
            )
        return th
