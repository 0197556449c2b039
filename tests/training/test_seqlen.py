"""Token-length report and max_seq_length: auto, on hand-made lengths and through the stage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from training_helpers import make_run, tiny_cfg

from ticketsim.training import seqlen
from ticketsim.training.stage import run_train


def test_report_numbers_and_suggestion() -> None:
    lengths = np.array([50] * 70 + [200] * 20 + [450] * 10)
    rep = seqlen.length_report(lengths, 128, 0.15)
    assert rep["truncated_share"] == pytest.approx(0.30)
    assert rep["percentiles"]["p50"] == 50 and rep["max"] == 450
    assert "30.0 % of training texts are longer than max_seq_length 128" in rep["warning"]
    assert "384 (cuts 10.0 %" in rep["suggestion"] and "512 (cuts 0.0 %" in rep["suggestion"]
    assert rep["truncated_at"]["256"] == pytest.approx(0.10)
    ok = seqlen.length_report(lengths, 512, 0.15)
    assert ok["warning"] is None and ok["suggestion"] is None


def test_auto_picks_smallest_limit_under_threshold() -> None:
    lengths = np.array([50] * 70 + [200] * 20 + [450] * 10)
    assert seqlen.pick_auto(lengths, 0.15) == 256  # 10 % cut at 256, 30 % at 128
    assert seqlen.pick_auto(lengths, 0.05) == 512
    assert seqlen.pick_auto(lengths, 0.05, model_max=256) == 256
    assert seqlen.pick_auto(np.array([10, 20]), 0.15) == 128
    assert seqlen.cost_factor(512, 128) > 4


@pytest.mark.config_keys("train.base_model", "train.max_seq_length", "train.truncation_threshold")
def test_stage_applies_the_limit(tmp_path: Path, tiny_model_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    run = make_run(tmp_path / "run", "pair")
    # texts are ~8 tokens: a limit of 6 cuts most of them and the report warns
    res = run_train(tiny_cfg(tiny_model_dir, max_seq_length=6, truncation_threshold=0.5,
                             max_steps=1, eval_strategy="no"), run)
    rep = json.loads((res.path / "seqlen.json").read_text())
    assert rep["max_seq_length"] == 6 and rep["threshold"] == 0.5
    assert rep["truncated_share"] > 0.5 and "longer than max_seq_length 6" in rep["warning"]
    # trained at 6 tokens, the saved model reads what the base model read (the tiny one: 64)
    base_read = SentenceTransformer(str(tiny_model_dir), device="cpu").max_seq_length
    assert res.summary["max_seq_length"] == 6 and base_read == 64
    assert res.summary["read_max_seq_length"] == base_read
    model = SentenceTransformer(str(res.path / "model"), device="cpu")
    assert model.max_seq_length == base_read
    assert "the saved model reads 64 tokens" in (res.path / "model" / "README.md").read_text()
    # the base model really is the configured one: same vocabulary as the tiny model
    assert model.tokenizer.get_vocab() == SentenceTransformer(
        str(tiny_model_dir), device="cpu").tokenizer.get_vocab()
    res2 = run_train(tiny_cfg(tiny_model_dir, max_seq_length="auto", max_steps=1,
                              eval_strategy="no"), run, force=True)
    assert res2.summary["max_seq_length"] == 128
    assert res2.summary["read_max_seq_length"] == 128  # longer than the base's: read as trained
    assert SentenceTransformer(str(res2.path / "model"), device="cpu").max_seq_length == 128
    assert json.loads((res2.path / "seqlen.json").read_text())["auto"] is True
