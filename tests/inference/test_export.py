"""ONNX export: the graphs agree with torch, keep dynamic axes, and fail clearly on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from inference_helpers import ticket_texts

from ticketsim.errors import TicketsimError
from ticketsim.inference import load_encoder
from ticketsim.inference.agreement import agreement
from ticketsim.inference.export import export_onnx
from ticketsim.inference.onnx_meta import META


def test_fp32_graph_matches_torch_and_sentence_transformers(tiny_onnx_dir: Path,
                                                            tiny_model_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    texts = ticket_texts(80, seed=1)
    onnx = load_encoder(tiny_onnx_dir, "onnx", threads=1).encode(texts, batch_size=16)
    torch_emb = load_encoder(tiny_model_dir, "torch").encode(texts, batch_size=16)
    plain = SentenceTransformer(str(tiny_model_dir), device="cpu").encode(
        texts, batch_size=16, normalize_embeddings=True)
    assert onnx.shape == (80, 32) and onnx.dtype == np.float32
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1, atol=1e-5)
    assert agreement(torch_emb, onnx)["cosine_min"] >= 0.99
    assert agreement(plain, torch_emb)["cosine_min"] >= 0.999  # torch backend == plain encode


def test_int8_graph_keeps_neighbours(tiny_onnx_dir: Path, tiny_model_dir: Path) -> None:
    texts = ticket_texts(80, seed=2)
    ref = load_encoder(tiny_model_dir, "torch").encode(texts)
    int8 = load_encoder(tiny_onnx_dir, "onnx-int8", threads=1).encode(texts)
    agree = agreement(ref, int8, k=10)
    # measured 0.9975-1.0 overlap and cosine 1.0000 over ten text seeds: the tiny model's weights
    # quantise almost exactly; the margin is for other CPUs' int8 kernels, and per-tensor
    # quantisation of a real model (0.787 on MiniLM) would still fail it
    assert agree["top10_overlap"] >= 0.9, agree
    assert agree["cosine_mean"] >= 0.95, agree


def test_export_meta_opset_dynamic_axes_and_quantized_ops(tiny_onnx_dir: Path) -> None:
    import onnx

    meta = json.loads((tiny_onnx_dir / META).read_text())
    assert meta["opset"] == 17 and meta["dim"] == 32 and meta["max_seq_length"] == 64
    assert meta["fused_operators"].get("Attention") == 2  # BERT fusion on (2 layers)
    assert meta["agreement_with_torch"]["fp32"]["cosine_min"] >= 0.99
    fp32 = onnx.load(str(tiny_onnx_dir / meta["files"]["fp32"]))
    assert any(o.domain in ("", "ai.onnx") and o.version == 17 for o in fp32.opset_import)
    for inp in fp32.graph.input:
        dims = inp.type.tensor_type.shape.dim
        assert [d.dim_param for d in dims] == ["batch", "sequence"], inp.name
    assert fp32.graph.output[0].name == "sentence_embedding"
    int8 = onnx.load(str(tiny_onnx_dir / meta["files"]["int8"]))
    ops = {n.op_type for n in int8.graph.node}
    assert "QAttention" in ops and ("MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops)
    assert "EmbedLayerNormalization" in ops  # embeddings stay float32
    assert meta["quantization"]["fp32_ffn_layers"] == 2


def test_lengths_and_batch_sizes_do_not_change_results(tiny_onnx_dir: Path) -> None:
    enc = load_encoder(tiny_onnx_dir, "onnx", threads=1)
    texts = ticket_texts(30, seed=3)
    a = enc.encode(texts, batch_size=1)
    b = enc.encode(texts, batch_size=7)
    c = enc.encode(list(reversed(texts)), batch_size=64)[::-1]
    assert np.allclose(a, b, atol=1e-5) and np.allclose(a, c, atol=1e-5)
    assert enc.encode([]).shape == (0, 32)


def test_threads_reach_the_session(tiny_onnx_dir: Path) -> None:
    enc = load_encoder(tiny_onnx_dir, "onnx", threads=1)
    opts = enc.session.get_session_options()
    assert opts.intra_op_num_threads == 1 and opts.inter_op_num_threads == 1
    import onnxruntime as ort

    assert opts.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL


def test_fingerprints_differ_by_backend(tiny_onnx_dir: Path, tiny_model_dir: Path) -> None:
    fps = {load_encoder(tiny_onnx_dir, "onnx").fingerprint,
           load_encoder(tiny_onnx_dir, "onnx-int8").fingerprint,
           load_encoder(tiny_model_dir, "torch").fingerprint,
           load_encoder(tiny_model_dir, "torch", max_seq_length=16).fingerprint}
    assert len(fps) == 4


def test_bad_inputs_are_clear_errors(tmp_path: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(TicketsimError, match="not an ONNX export"):
        load_encoder(tiny_model_dir, "onnx")
    with pytest.raises(TicketsimError, match="unknown inference backend"):
        load_encoder(tiny_model_dir, "tensorrt")
    with pytest.raises(TicketsimError, match="does not exist"):
        export_onnx(tmp_path / "missing" / "model", tmp_path / "out")
    (tmp_path / "file").write_text("x")
    with pytest.raises(TicketsimError, match="is a file"):
        export_onnx(tiny_model_dir, tmp_path / "file")


def test_export_without_int8_has_no_int8_graph(tiny_model_dir: Path, tmp_path: Path) -> None:
    res = export_onnx(tiny_model_dir, tmp_path / "fp32only", int8=False, optimize=False)
    assert res.files == {"fp32": "model.onnx"} and res.meta["fused_operators"] == {}
    with pytest.raises(TicketsimError, match="no int8 graph"):
        load_encoder(tmp_path / "fp32only", "onnx-int8")
    assert not list(tmp_path.glob(".fp32only.tmp-*"))  # temp folder swapped into place


@pytest.mark.slow
def test_minilm_export_agrees_with_torch(tmp_path: Path, shared_data: Path) -> None:
    """The real default model on 800 real tickets: fp32 cosine >= 0.99, int8 top-10 overlap >= 0.85."""
    import pandas as pd

    from ticketsim.models import resolve_model

    model = resolve_model("default")
    out = export_onnx(model, tmp_path / "minilm").out_dir
    csv = shared_data / "endava_it_tickets" / "all_tickets_processed_improved_v3.csv.gz"
    texts = pd.read_csv(csv)["Document"].dropna().astype(str).sample(800, random_state=0).tolist()
    ref = load_encoder(model, "torch").encode(texts)
    fp32 = load_encoder(out, "onnx").encode(texts)
    int8 = load_encoder(out, "onnx-int8").encode(texts)
    assert agreement(ref, fp32)["cosine_min"] >= 0.99
    q = agreement(ref, int8, k=10)
    # bench/encode.py measured overlap 0.895-0.899 and cosine 0.993-0.996 (1,000-5,000 tickets);
    # per-query overlap varies by about 0.1, so the mean over 800 queries moves by ~0.004
    # between samples: 0.85 is over ten standard errors below the recipe, and still far above
    # the per-tensor int8 graph this test exists to reject (overlap 0.787, cosine 0.961)
    assert q["top10_overlap"] >= 0.85 and q["cosine_mean"] >= 0.98, q


def test_fp32_ffn_layers_reaches_the_int8_graph(tiny_model_dir: Path, tmp_path: Path) -> None:
    import onnx

    from ticketsim.inference.export import ffn_output_nodes

    kept = {}
    for n in (0, 1, -1):
        res = export_onnx(tiny_model_dir, tmp_path / f"q{n}", int8=True, fp32_ffn_layers=n)
        graph = onnx.load(str(res.out_dir / "model_int8.onnx")).graph
        fp32_left = set(ffn_output_nodes(graph))  # still plain float MatMul nodes
        kept[n] = len(fp32_left)
        assert fp32_left == set(res.meta["quantization"]["nodes_excluded"])
    assert kept == {0: 0, 1: 1, -1: 2}
