"""What every bench script does with its result: write the JSON atomically, maybe print it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ticketsim.rundir import atomic_write_json


def emit(result: dict[str, Any], out: Path | None, as_json: bool) -> bool:
    """Write ``result`` to ``out`` (temp file + rename); print it when ``as_json``.

    Returns ``as_json`` so a caller prints its own table only when the JSON was not printed.
    """
    if out:
        atomic_write_json(out, result)
    if as_json:
        print(json.dumps(result, indent=2))
    return as_json
