"""The files of an ONNX export folder and its ``ticketsim_onnx.json``.

Shared by the exporter (which writes them) and the ONNX backend (which reads them), so
neither imports the other for a file name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ticketsim.errors import TicketsimError

META = "ticketsim_onnx.json"
FP32_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"


def is_export(folder: str | Path | None) -> bool:
    """Whether ``folder`` holds an export written by ``ticketsim export-onnx``."""
    return folder is not None and (Path(str(folder)) / META).is_file()


def read_meta(folder: str | Path) -> dict[str, Any]:
    """The export's ``ticketsim_onnx.json``, or an error naming the command that writes it."""
    p = Path(folder).expanduser() / META
    if not p.is_file():
        raise TicketsimError(
            f"{folder}: not an ONNX export (no {META})",
            hint=f"run `ticketsim export-onnx MODEL_DIR {folder} --int8` first")
    try:
        meta: dict[str, Any] = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise TicketsimError(f"{p}: unreadable ({exc})", hint="export the model again") from exc
    return meta
