"""Embedding cache: repeats are lookups with identical vectors; another model misses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from inference_helpers import CountingEncoder, ticket_texts

from ticketsim.inference.cache import CachedEncoder, EmbeddingCache, default_cache_path


def test_second_encode_hits_cache_with_identical_results(tmp_path: Path) -> None:
    inner = CountingEncoder()
    enc = CachedEncoder(inner, tmp_path / "c.sqlite")
    texts = ticket_texts(50, seed=0)
    first = enc.encode(texts)
    assert inner.texts_encoded == 50
    second = enc.encode(texts)
    assert inner.texts_encoded == 50 and len(inner.calls) == 1  # no second encoder call
    assert np.array_equal(first, second) and second.dtype == np.float32
    assert enc.hits == 50 and enc.misses == 50


def test_only_new_texts_are_encoded_and_duplicates_once(tmp_path: Path) -> None:
    inner = CountingEncoder()
    enc = CachedEncoder(inner, tmp_path / "c.sqlite")
    enc.encode(["a b", "c d"])
    out = enc.encode(["c d", "e f", "e f", "a b"])
    assert inner.calls[-1] == ["e f"]
    assert np.array_equal(out[1], out[2])
    assert np.array_equal(out[0], enc.encode(["c d"])[0])


def test_other_fingerprint_misses_and_cache_persists(tmp_path: Path) -> None:
    path = default_cache_path(tmp_path / "run")
    texts = ticket_texts(10, seed=1)
    CachedEncoder(CountingEncoder("model-A"), path).encode(texts)
    other = CountingEncoder("model-B")
    CachedEncoder(other, path).encode(texts)
    assert other.texts_encoded == 10  # a different model never reuses vectors
    again = CountingEncoder("model-A")
    CachedEncoder(again, EmbeddingCache(path)).encode(texts)  # a new process, same file
    assert again.texts_encoded == 0
    assert EmbeddingCache(path).count() == 20 and EmbeddingCache(path).count("model-A") == 10


def test_cache_with_real_encoder(tmp_path: Path, tiny_model_dir: Path) -> None:
    from ticketsim.inference import load_encoder

    base = load_encoder(tiny_model_dir, "torch")
    enc = CachedEncoder(base, tmp_path / "c.sqlite")
    texts = ticket_texts(20, seed=2)
    a = enc.encode(texts, batch_size=8)
    b = enc.encode(texts, batch_size=8)
    assert np.array_equal(a, b) and enc.hits == 20
    assert np.allclose(a, base.encode(texts), atol=1e-6)


def test_encoder_for_exports_once_and_caches(tmp_path: Path, tiny_model_dir: Path) -> None:
    from ticketsim.inference import encoder_for
    from ticketsim.progress import ListReporter

    cache = tmp_path / "run" / "cache"
    rep = ListReporter()
    enc = encoder_for(tiny_model_dir, "onnx-int8", cache_dir=cache, threads=1, reporter=rep)
    texts = ticket_texts(15, seed=3)
    first = enc.encode(texts)
    assert len(list(cache.glob("onnx-*"))) == 1 and any("exporting" in m for m in rep.messages)
    rep2 = ListReporter()
    again = encoder_for(tiny_model_dir, "onnx-int8", cache_dir=cache, threads=1, reporter=rep2)
    assert not any("exporting" in m for m in rep2.messages)  # the export is reused
    assert np.array_equal(first, again.encode(texts)) and again.hits == 15
    torch_enc = encoder_for(tiny_model_dir, "torch", cache_dir=cache)
    torch_enc.encode(texts)
    assert torch_enc.misses == 15  # another backend, another fingerprint


def test_loaded_model_fingerprint_follows_its_weights(tiny_model_dir: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    from ticketsim.inference.torch_backend import TorchEncoder

    a = SentenceTransformer(str(tiny_model_dir), device="cpu")
    b = SentenceTransformer(str(tiny_model_dir), device="cpu")
    assert TorchEncoder(a).fingerprint == TorchEncoder(b).fingerprint  # same weights, new process
    with torch.no_grad():
        next(b.parameters()).add_(0.01)
    assert TorchEncoder(a).fingerprint != TorchEncoder(b).fingerprint


def test_cache_is_usable_from_worker_threads(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    enc = CachedEncoder(CountingEncoder(), tmp_path / "c.sqlite")
    texts = ticket_texts(40, seed=9)
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda i: enc.encode(texts[i::4]), range(4)))
    assert sum(len(o) for o in outs) == 40 and enc.cache.count() == 40
