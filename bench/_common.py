"""What every bench script does with its result: write the JSON atomically, maybe print it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def emit(result: dict[str, Any], out: Path | None, as_json: bool) -> bool:
    """Write ``result`` to ``out`` (temp file + rename); print it when ``as_json``.

    Returns ``as_json`` so a caller prints its own table only when the JSON was not printed.
    """
    text = json.dumps(result, indent=2)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(out.suffix + ".tmp")
        tmp.write_text(text + "\n")
        os.replace(tmp, out)
    if as_json:
        print(text)
    return as_json
