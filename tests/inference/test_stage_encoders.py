"""index.encoder: the ONNX backends reach the index, search, serve and evaluate."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "index"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))

from evaluation_helpers import tiny_config, tiny_test_links, write_run  # noqa: E402
from evaluation_helpers import tiny_tickets as eval_tickets  # noqa: E402
from index_helpers import index_config, make_run, tiny_tickets  # noqa: E402

from ticketsim.evaluation.stage import run_evaluate  # noqa: E402
from ticketsim.index.search import Searcher  # noqa: E402
from ticketsim.index.stage import run_index  # noqa: E402
from ticketsim.inference import load_encoder  # noqa: E402
from ticketsim.inference.cache import CACHE_FILE  # noqa: E402
from ticketsim.models import model_fingerprint  # noqa: E402


def _cached_fingerprints(run_path: Path) -> dict[str, int]:
    with sqlite3.connect(run_path / "cache" / CACHE_FILE) as db:
        return dict(db.execute("SELECT fingerprint, COUNT(*) FROM embeddings GROUP BY fingerprint"))


@pytest.mark.config_keys("index.encoder")
def test_index_encoder_reaches_index_search_and_updates(tmp_path: Path, tiny_model_dir: Path) -> None:
    run = make_run(tmp_path / "run")
    # one text, one cache row: no lead view, and routing reads as indexed (no leads cached)
    cfg = index_config(tiny_model_dir, encoder="onnx-int8", lead_weight=0.0,
                       routing_lead_weight=0.0)
    res = run_index(cfg, run)
    assert res.summary["encoder"] == "onnx-int8"
    meta = json.loads((run.path / "index" / "meta.json").read_text())
    assert meta["encoder"] == "onnx-int8"
    export = run.path / "cache" / f"onnx-{model_fingerprint(tiny_model_dir)}"
    assert (export / "model_int8.onnx").is_file()  # exported once into the run's cache

    s = Searcher(run, cfg)
    assert s.encoder.backend == "onnx-int8" and s.stats()["encoder"] == "onnx-int8"
    # the stored vectors are the int8 graph's, not torch's
    int8 = load_encoder(export, "onnx-int8")
    torch_enc = load_encoder(str(tiny_model_dir), "torch")
    texts = ["vpn cannot connect from home. vpn keeps dropping, cannot connect"]
    q8, qt = int8.encode(texts), torch_enc.encode(texts)
    assert not np.allclose(q8, qt, atol=1e-6)  # int8 really differs from torch ...
    hits = s.search(texts[0], k=2)
    # ... and the query, embedded by the same int8 graph, finds the two tickets with its text
    assert {h.id for h in hits} == {"T00", "T02"}
    assert [h.score for h in hits] == pytest.approx([1.0, 1.0], abs=1e-4)
    distinct = tiny_tickets()["text"].nunique()  # the cache holds each distinct text once
    assert _cached_fingerprints(run.path) == {int8.fingerprint: distinct}
    # API adds are embedded by the same backend: the new ticket is its own nearest neighbour
    s.upsert([{"id": "N1", "short_description": "printer on fire", "description": "smoke"}])
    assert s.search("printer on fire. smoke", k=1)[0].id == "N1"
    s.close()

    torch_run = make_run(tmp_path / "torch")
    run_index(index_config(tiny_model_dir), torch_run)
    t = Searcher(torch_run, index_config(tiny_model_dir))
    assert t.encoder.backend == "torch"
    assert not (torch_run.path / "cache" / export.name).exists()
    t.close()


@pytest.mark.config_keys("index.encoder")
def test_evaluate_embeds_with_the_index_encoder_and_reuses_the_cache(tmp_path: Path,
                                                                    tiny_model_dir: Path) -> None:
    run = write_run(tmp_path / "run", eval_tickets(), tiny_test_links(), tiny_model_dir)
    int8_cfg = tiny_config(tiny_model_dir)
    int8_cfg.index.encoder = "onnx-int8"
    m8 = run_evaluate(int8_cfg, run).summary
    assert m8["encoder"] == "onnx-int8"
    fps = _cached_fingerprints(run.path)
    export = run.path / "cache" / f"onnx-{model_fingerprint(tiny_model_dir)}"
    int8 = load_encoder(export, "onnx-int8")
    n = eval_tickets()["text"].nunique()
    # base and fine-tuned are the same tiny weights: embedded once, the second system hit the cache
    assert fps == {int8.fingerprint: n}

    mt = run_evaluate(tiny_config(tiny_model_dir), run, force=True).summary
    assert mt["encoder"] == "torch"
    torch_fp = load_encoder(str(tiny_model_dir), "torch").fingerprint
    assert _cached_fingerprints(run.path) == {int8.fingerprint: n, torch_fp: n}
    # same model, different backend: the tiny model's int8 graph keeps >= 99.7 % of top-10
    # neighbours (test_export), so the rankings, and MRR@10, barely move
    for name in ("base", "finetuned"):
        assert abs(m8["systems"][name]["mrr@10"] - mt["systems"][name]["mrr@10"]) <= 0.05


def _auto(model: Path, min_cosine: float):  # type: ignore[no-untyped-def]
    cfg = tiny_config(model)
    cfg.index.encoder = "auto"
    cfg.index.int8_min_cosine = min_cosine
    return cfg


@pytest.mark.slow  # an ONNX export and three stages on a busy machine: ~1-3 min
@pytest.mark.config_keys("index.int8_min_cosine")
def test_auto_encoder_follows_the_measured_agreement_and_the_index_reuses_it(
        tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ticketsim.inference as inference
    from ticketsim.inference import pick_backend

    texts = eval_tickets()["text"].tolist()
    lenient, agree = pick_backend(str(tiny_model_dir), texts, cache_dir=tmp_path / "c",
                                  min_cosine=0.5)
    assert lenient == "onnx-int8" and agree["cosine_mean"] > 0.9 and agree["sample"] == len(texts)

    run = write_run(tmp_path / "run", eval_tickets(), tiny_test_links(), tiny_model_dir)
    res = run_evaluate(_auto(tiny_model_dir, 0.5), run).summary
    assert any("embedded by onnx-int8" in n for n in res["notes"]), res["notes"]
    int8_fp = load_encoder(run.path / "cache" / f"onnx-{model_fingerprint(tiny_model_dir)}",
                           "onnx-int8").fingerprint
    before = _cached_fingerprints(run.path)
    # index.encoder auto decides as evaluate did, and finds every vector in the run's cache
    summary = run_index(_auto(tiny_model_dir, 0.5), run).summary
    assert summary["encoder"] == "onnx-int8"
    assert _cached_fingerprints(run.path) == before and before[int8_fp] > 0

    # a model whose int8 graph agrees less (measured 0.98) than the tolerance: torch
    real = inference.embedding_agreement
    monkeypatch.setattr(inference, "embedding_agreement",
                        lambda a, b, k=10: {**real(a, b, k), "cosine_mean": 0.98})
    strict_run = write_run(tmp_path / "strict", eval_tickets(), tiny_test_links(), tiny_model_dir)
    res = run_evaluate(_auto(tiny_model_dir, 0.99), strict_run).summary
    assert any("embedded by torch" in n for n in res["notes"]), res["notes"]
    assert any("embedded by onnx-int8" in n for n in run_evaluate(
        _auto(tiny_model_dir, 0.97), strict_run, force=True).summary["notes"])
