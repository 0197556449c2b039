"""Shared fixtures: tiny models and data built locally (nothing downloads), and the CI skip rule."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

WORDS = ["vpn", "password", "reset", "outlook", "email", "printer", "laptop", "screen", "login", "account", "locked", "network", "wifi", "error", "install", "software", "sap", "erp", "payroll", "hr", "badge", "access", "share", "drive", "folder", "teams", "meeting", "slow", "crash", "update", "windows", "mac", "phone", "mobile", "mfa", "token", "certificate", "expired", "cannot", "connect", "print", "jam", "toner", "battery", "keyboard", "mouse", "monitor", "docking", "station", "license", "excel", "word", "pdf", "the", "a", "to", "is", "not", "my", "on", "in", "with", "and", "of", "for", "after", "when", "since", "please", "help", "urgent", "again", "user"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # type: ignore[no-untyped-def]
    """Under CI=true a skipped test that is not marked slow fails: no hiding behind a skip."""
    outcome = yield
    report = outcome.get_result()
    if (
        os.environ.get("CI", "").lower() in ("1", "true", "yes")
        and report.skipped
        and item.get_closest_marker("slow") is None
        and not hasattr(report, "wasxfail")
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI without a slow marker: {reason}"


def build_tiny_model(folder: Path, dim: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """A random BERT with a WordPiece tokenizer trained here, saved as a sentence-transformers folder."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    tok_dir = folder / "_tok"
    tok_dir.mkdir(exist_ok=True)
    wp = BertWordPieceTokenizer(lowercase=True)
    corpus = [" ".join(WORDS[i:] + WORDS[:i]) for i in range(len(WORDS))]
    wp.train_from_iterator(corpus, vocab_size=400, min_frequency=1)
    wp.save_model(str(tok_dir))
    # transformers 5 renamed vocab_file -> vocab; from_pretrained reads vocab.txt either way.
    tokenizer = BertTokenizerFast.from_pretrained(str(tok_dir), do_lower_case=True)
    assert len(tokenizer) > 100, "tiny tokenizer lost its vocabulary"
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=dim, num_hidden_layers=layers,
        num_attention_heads=2, intermediate_size=dim * 2, max_position_embeddings=256,
    )
    hf_dir = folder / "_hf"
    BertModel(config).save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    transformer = models.Transformer(str(hf_dir), max_seq_length=64)
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu")
    out = folder / "model"
    model.save(str(out))
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a tiny random sentence-transformers model (built once per session)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, for slow tests; skipped when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
