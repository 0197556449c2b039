"""What every benchmark shares: where things are, and writing the JSON result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ticketsim.rundir import atomic_write_json

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
# real ticket data next to the checkout; benchmarks skip a dataset when it is absent
SHARED_DATA = ROOT.parent / "shared" / "data"
ENDAVA_DIR = SHARED_DATA / "endava_it_tickets"
ENDAVA_FULL = ENDAVA_DIR / "all_tickets_processed_improved_v3.csv.gz"
ENDAVA_SUBSET = ENDAVA_DIR / "all_tickets_subset.csv"
SEAMONKEY_DIR = SHARED_DATA / "seamonkey_bugs"


def emit(result: dict[str, Any], out: Path | None, as_json: bool) -> bool:
    """Write ``result`` to ``out`` (temp file + rename); print it when ``as_json``.

    Returns ``as_json`` so a caller prints its own table only when the JSON was not printed.
    """
    if out:
        atomic_write_json(out, result)
    if as_json:
        print(json.dumps(result, indent=2))
    return as_json
