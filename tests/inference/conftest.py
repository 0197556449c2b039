"""Fixtures of the inference tests: one ONNX export of the tiny model per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from inference_helpers import ticket_texts


@pytest.fixture(scope="session")
def tiny_onnx_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model exported to fp32 and int8 ONNX."""
    from ticketsim.inference.export import export_onnx

    out = tmp_path_factory.mktemp("tiny-onnx") / "export"
    export_onnx(tiny_model_dir, out, int8=True, probe_texts=ticket_texts(12, seed=5))
    return out
