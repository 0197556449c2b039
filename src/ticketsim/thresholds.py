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
LABELS = ("duplicate", "related", "unrelated")
UNKNOWN = ("not measured: these thresholds were fitted before labels were measured; "
           "rerun `ticketsim evaluate`")


def ratio(x: float) -> str:
    """A share in words a person reads at a glance: 0.9 -> "9 in 10", 0.14 -> "1 in 7"."""
    if x >= 1.0:
        return "all"
    if x <= 0.0:
        return "none"
    if x >= 0.95:
        return f"{min(99, int(100 * x + 0.5))} in 100"
    if x < 0.15:
        return f"1 in {int(1 / x + 0.5)}"
    return f"{int(10 * x + 0.5)} in 10"


def describe(label: str, st: dict[str, Any]) -> str:
    """One sentence: what a label's measured precision and recall mean (or why unmeasured)."""
    if not st.get("measured"):
        return f"{label}: not measured ({st.get('why_not') or 'no held-out pairs'})"
    p, r = st.get("precision"), st.get("recall")
    found = (f"finds {ratio(r)} of them ({st['found']} of {st['true']})" if r is not None
             else "nothing to find")
    if p is None:
        head = "no held-out pair got this label"
    elif label == "duplicate":
        head = f"{ratio(p)} are real duplicates ({st['correct']} of {st['labelled']})"
    elif label == "related":
        head = (f"{ratio(p)} are related or duplicates ({st['correct']} of {st['labelled']}; "
                f"related = {st.get('truth') or 'a known related link'})")
        found = "with duplicate, " + found
    else:
        head = f"{ratio(p)} are really unrelated ({st['correct']} of {st['labelled']})"
        found = found.replace("finds", "gets")
    return f"{label}: {head}; {found}"


@dataclass
class Thresholds:
    """Cosine thresholds plus a Platt calibration ``p = 1 / (1 + exp(-(a * score + b)))``.

    ``labels`` holds each label's cross-fitted precision and recall on held-out pairs
    and the sentence that says it (:func:`describe`), so every place that shows a label
    can say what it is worth.
    """

    model_fingerprint: str
    duplicate: float
    related: float
    calib_a: float = 10.0
    calib_b: float = -8.0
    model_path: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)

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

    def meaning(self) -> dict[str, str]:
        """Each label's measured meaning in words (what the page shows as a tooltip)."""
        return {lab: (self.labels[lab].get("words") or UNKNOWN) if lab in self.labels
                else f"{lab}: {UNKNOWN}" for lab in LABELS}

    def measured(self) -> dict[str, bool]:
        """Whether each label's precision and recall were measured on held-out pairs."""
        return {lab: bool((self.labels.get(lab) or {}).get("measured")) for lab in LABELS}

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
