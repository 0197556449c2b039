"""``ticketsim export-onnx``: a model to ONNX (and int8 ONNX) for the fast CPU backends."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ticketsim.cli.common import app, console
from ticketsim.cli.render import reporter


@app.command("export-onnx")
def export_onnx_cmd(
    model_dir: Annotated[str, typer.Argument(help="sentence-transformers folder (or 'default').")],
    out_dir: Annotated[Path, typer.Argument(help="Folder for model.onnx, tokenizer and meta.")],
    int8: Annotated[bool, typer.Option("--int8", help="Also write the int8 quantised graph.")] = False,
    optimize: Annotated[bool, typer.Option(help="Fuse BERT subgraphs with onnxruntime.")] = True,
    fp32_ffn_layers: Annotated[int, typer.Option(
        help="int8: leading layers whose FFN output stays fp32 (-1: all; more is closer, slower)."
    )] = 2,
) -> None:
    """Export a model to ONNX (and int8 ONNX) for the fast CPU backends.

    Example: ticketsim export-onnx runs/demo/train/model runs/demo/onnx --int8
    """
    from ticketsim.inference.export import export_onnx

    result = export_onnx(model_dir, out_dir, int8=int8, optimize=optimize,
                         fp32_ffn_layers=fp32_ffn_layers, reporter=reporter())
    table = Table(title=f"ONNX export: {result.out_dir}")
    for col in ("graph", "file", "MB", "cosine to torch (mean / min)"):
        table.add_column(col)
    for kind, name in result.files.items():
        agree = result.meta["agreement_with_torch"][kind]
        size = (result.out_dir / name).stat().st_size / 1e6
        table.add_row(kind, name, f"{size:.0f}",
                      f"{agree['cosine_mean']:.4f} / {agree['cosine_min']:.4f}")
    console.print(table)


