"""Export a sentence-transformers folder to ONNX (fp32) and dynamically quantised int8 ONNX.

Uses ``torch.onnx.export`` (TorchScript exporter, opset 17, dynamic batch and sequence
axes) and onnxruntime's own tools, not optimum (whose sentence-transformers extra
downgrades transformers and breaks sentence-transformers 6):

1. the whole module chain (transformer, pooling, any Dense, normalize) is traced with
   eager attention, so pooling and L2 normalisation live inside the graph and the graph
   takes ``input_ids`` / ``attention_mask`` (/ ``token_type_ids``) and returns
   ``sentence_embedding``;
2. for BERT-family models, ``onnxruntime.transformers.optimizer`` fuses embeddings,
   attention, GELU and skip-layer-norm (fewer, bigger kernels);
3. int8: ``quantize_dynamic`` with per-channel int8 weights on MatMul and fused Attention
   only; embeddings, layer norms and pooling stay float32, and so do the FFN
   down-projections of the first ``fp32_ffn_layers`` layers (they see GELU outputs with
   outliers, and early errors propagate). Measured on MiniLM over 1,000 Endava tickets:
   per-tensor int8 cosine 0.961 to torch; per-channel 0.993 (top-10 overlap 0.895);
   + first two FFN outputs in fp32 0.995 (0.916) for about 6 % of the int8 speed;
   all six FFN outputs in fp32 0.997 (0.926) for about 40 %.

The export checks itself: it encodes probe texts with torch and with each ONNX file and
records the agreement in ``ticketsim_onnx.json``; an fp32 graph that disagrees is an error.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ticketsim.errors import TicketsimError
from ticketsim.inference.agreement import agreement
from ticketsim.inference.onnx_backend import OnnxEncoder
from ticketsim.inference.onnx_meta import FP32_FILE, INT8_FILE, META
from ticketsim.inference.torch_backend import TorchEncoder
from ticketsim.models import load_model, model_fingerprint, resolve_model
from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import atomic_write_json, file_hash, replace_dir

OPSET = 17
# model types whose graphs onnxruntime's BERT optimizer knows how to fuse
BERT_LIKE = {"bert", "roberta", "xlm-roberta", "distilbert", "camembert", "electra", "mpnet"}
PROBES = [
    "VPN keeps disconnecting when working from home",
    "cannot log in to outlook, password expired",
    "printer on floor 3 jams and shows toner error",
    "please create an account for the new starter in HR",
    "laptop screen flickers after the latest windows update and the docking station is not detected",
    "sap payroll report fails with an authorisation error",
    "short",
    "access request for shared drive folder finance/2024, urgent, manager approved",
]


@dataclass
class ExportResult:
    """Where the files are and how closely they agree with torch on the probe texts."""

    out_dir: Path
    files: dict[str, str]
    meta: dict[str, Any] = field(default_factory=dict)


def _sentence_module(st: Any, names: list[str]) -> Any:
    """A traceable module: token tensors in (in ``names`` order), normalised sentence embedding out."""
    import torch

    class SentenceGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = st

        def forward(self, *tensors: Any) -> Any:
            emb = self.inner(dict(zip(names, tensors, strict=True)))["sentence_embedding"]
            return torch.nn.functional.normalize(emb, p=2, dim=1)

    return SentenceGraph().eval()


def _input_names(tokenizer: Any) -> list[str]:
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in tokenizer.model_input_names:
        names.append("token_type_ids")
    return names


def _torch_export(st: Any, path: Path, names: list[str], opset: int) -> None:
    import torch

    transformer = st[0]
    hf = getattr(transformer, "auto_model", None)
    if hf is not None and hasattr(hf, "set_attn_implementation"):
        # eager attention traces into the MatMul/Softmax pattern onnxruntime fuses into Attention
        hf.set_attn_implementation("eager")
    wrapper = _sentence_module(st, names)
    sample = st.tokenizer(PROBES[:2], padding=True, return_tensors="pt")
    args = tuple(sample[n] if n in sample else torch.zeros_like(sample["input_ids"]) for n in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["sentence_embedding"] = {0: "batch"}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, args, str(path), dynamo=False, opset_version=opset,
                          input_names=names, output_names=["sentence_embedding"],
                          dynamic_axes=axes, do_constant_folding=True)


def _optimize_bert(src: Path, dst: Path, config: Any) -> dict[str, int]:
    """Fuse BERT subgraphs with onnxruntime.transformers.optimizer; returns fused-op counts."""
    from onnxruntime.transformers.optimizer import optimize_model

    opt = optimize_model(str(src), model_type="bert", num_heads=int(config.num_attention_heads),
                         hidden_size=int(config.hidden_size), opt_level=1, use_gpu=False)
    opt.save_model_to_file(str(dst))
    return {k: int(v) for k, v in opt.get_fused_operator_statistics().items() if v}


def ffn_output_nodes(graph: Any) -> list[str]:
    """Names of the FFN down-projection MatMuls (``layer.N.output.dense``), in graph order."""
    return [n.name for n in graph.node if n.op_type == "MatMul"
            and n.name.endswith("/output/dense/MatMul") and "/attention/" not in n.name]


def _quantize(src: Path, dst: Path, fp32_ffn_layers: int) -> dict[str, Any]:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    ffn = ffn_output_nodes(onnx.load(str(src), load_external_data=False).graph)
    excluded = ffn if fp32_ffn_layers < 0 else ffn[:fp32_ffn_layers]
    settings = {"weight_type": "QInt8", "per_channel": True, "reduce_range": False,
                "op_types_to_quantize": ["MatMul", "Attention"],
                "fp32_ffn_layers": fp32_ffn_layers, "nodes_excluded": excluded}
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                     reduce_range=False, op_types_to_quantize=["MatMul", "Attention"],
                     nodes_to_exclude=excluded,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return settings


def export_onnx(model: str | Path | None, out_dir: str | Path, *, int8: bool = True,
                optimize: bool = True, fp32_ffn_layers: int = 2, opset: int = OPSET,
                probe_texts: list[str] | None = None, min_fp32_cosine: float = 0.99,
                reporter: Reporter = NULL) -> ExportResult:
    """Export ``model`` (folder or name) to ``out_dir``: fp32 ONNX, optional int8, tokenizer, meta.

    ``fp32_ffn_layers``: leading layers whose FFN output MatMul stays float32 in the int8
    graph (0: quantise all, -1: keep all). ``out_dir`` is written atomically (a temp folder
    swapped into place). ``probe_texts``
    (default: a few built-in tickets) are encoded by torch and by each graph to check them.
    """
    resolved = resolve_model(model)
    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise TicketsimError(f"{out} is a file", hint="give a folder for the ONNX export")
    # a private copy: switching attention to eager must not touch the process-wide cached model
    st = load_model(resolved, device="cpu", cache=False).eval()
    modules = [type(m).__name__ for m in st]
    if not modules or not hasattr(st[0], "tokenizer") or st.tokenizer is None:
        raise TicketsimError(f"{resolved}: not a text sentence-transformers model ({modules})",
                             hint="export works on Transformer + Pooling (+ Dense, Normalize) models")
    names = _input_names(st.tokenizer)
    transformer: Any = st[0]
    config = transformer.auto_model.config
    probes = list(probe_texts or PROBES)
    reference = TorchEncoder(load_model(resolved, device="cpu"), max_seq_length=st.max_seq_length
                             ).encode(probes)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        reporter.log(f"exporting {resolved} to ONNX (opset {opset})")
        raw = tmp / "raw.onnx"
        _torch_export(st, raw, names, opset)
        fused: dict[str, int] = {}
        if optimize and config.model_type in BERT_LIKE:
            reporter.log("fusing BERT subgraphs (onnxruntime.transformers.optimizer)")
            fused = _optimize_bert(raw, tmp / FP32_FILE, config)
            raw.unlink()
        else:
            raw.rename(tmp / FP32_FILE)
        files = {"fp32": FP32_FILE}
        quant: dict[str, Any] = {}
        if int8:
            reporter.log("quantising to int8 (dynamic, per-channel, MatMul + Attention)")
            quant = _quantize(tmp / FP32_FILE, tmp / INT8_FILE, fp32_ffn_layers)
            files["int8"] = INT8_FILE
        st.tokenizer.save_pretrained(str(tmp))
        meta: dict[str, Any] = {
            "source": resolved,
            "source_fingerprint": model_fingerprint(resolved) if Path(resolved).is_dir() else resolved,
            "max_seq_length": int(st.max_seq_length or 512),
            "dim": reference.shape[1],
            "inputs": names,
            "output": "sentence_embedding",
            "pooling": "in graph, then L2 normalisation",
            "modules": modules,
            "opset": opset,
            "model_type": config.model_type,
            "fused_operators": fused,
            "quantization": quant,
            "files": files,
            "file_hashes": {k: file_hash(tmp / v) for k, v in files.items()},
        }
        atomic_write_json(tmp / META, meta)
        checks = {}
        for kind in files:
            enc = OnnxEncoder(tmp, int8=kind == "int8", threads=1)
            checks[kind] = agreement(reference, enc.encode(probes), k=min(10, len(probes) - 1))
        meta["agreement_with_torch"] = checks
        atomic_write_json(tmp / META, meta)
        if checks["fp32"]["cosine_min"] < min_fp32_cosine:
            raise TicketsimError(
                f"{resolved}: the fp32 ONNX graph disagrees with torch (min cosine "
                f"{checks['fp32']['cosine_min']:.4f} < {min_fp32_cosine})",
                hint="export with --no-optimize, or report the model architecture as unsupported")
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    reporter.log(f"wrote {out}: " + ", ".join(
        f"{k} cosine {v['cosine_mean']:.4f}" for k, v in checks.items()))
    return ExportResult(out_dir=out, files=files, meta=json.loads((out / META).read_text()))
