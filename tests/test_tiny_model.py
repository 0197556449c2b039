from __future__ import annotations

from pathlib import Path


def test_tiny_model_loads_and_encodes(tiny_model_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    emb = model.encode(["vpn password reset", "printer toner jam"])
    assert emb.shape == (2, 32)
    assert abs(float((emb[0] ** 2).sum()) - 1.0) < 1e-4
