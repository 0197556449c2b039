"""train.domain_adaptation: SimCSE / TSDAE / pseudo-pair steps on unlabelled tickets before fine-tuning."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from training_helpers import make_run, tiny_cfg

from ticketsim.training import adapt as adapt_mod
from ticketsim.training.adapt import adapt, adaptation_texts, agreed_pairs, delete_words
from ticketsim.training.stage import run_train

TEXTS = [f"vpn token {w} network drops again {i}" for i, w in
         enumerate(["printer", "laptop", "wifi", "email", "badge", "excel"] * 4)]


def test_delete_words_keeps_about_two_fifths_and_never_nothing() -> None:
    rng = random.Random(0)
    text = " ".join(f"w{i}" for i in range(1000))
    kept = delete_words(text, rng).split()
    assert 300 < len(kept) < 500 and kept == sorted(kept, key=lambda w: int(w[1:]))
    assert all(len(delete_words("one two", random.Random(s)).split()) >= 1 for s in range(20))
    assert adaptation_texts(["b", "a", "b", " ", ""], 10, 0) in (["a", "b"], ["b", "a"])


def test_agreed_pairs_are_best_matches_by_both_bm25_and_the_embedding() -> None:
    texts = ["vpn drops every hour", "vpn drops at night",  # keyword twins
             "printer jams on tray two", "printer jam tray two again",  # keyword twins
             "outlook crashes at start", "mail client dies when opened"]  # meaning twins only
    emb = np.eye(6)
    emb[[0, 1]] = [1, 0, 0, 0, 0, 0]  # the embedding agrees on 0-1 and 4-5
    emb[[4, 5]] = [0, 0, 0, 0, 1, 0]
    emb[2], emb[3] = np.eye(6)[2], np.eye(6)[3]  # and has no opinion on 2-3
    emb[2, 5] = emb[3, 1] = 0.3  # 2's best is 5, 3's best is 1: no agreement with BM25
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    assert agreed_pairs(texts, emb) == [(0, 1)]  # 4-5 share no word: BM25 has no best match
    assert agreed_pairs(texts, emb, chunk=2) == [(0, 1)]


@pytest.mark.parametrize("method", ["simcse", "tsdae"])
def test_adapt_trains_the_model_in_place(method: str, tiny_model_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    info = adapt(model, TEXTS, method, steps=3, batch_size=4, seed=0, learning_rate=1e-3)
    assert (info["method"], info["steps"], info["texts"]) == (method, 3, 12)
    assert np.isfinite(info["loss"])
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert any("encoder.layer" in k for k in changed)


def test_pseudo_adaptation_trains_one_pass_over_the_agreed_pairs(tiny_model_dir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  ) -> None:
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    seen: list[tuple[Any, int]] = []

    class Spy(sentence_transformers.SentenceTransformerTrainer):  # type: ignore[misc]
        def train(self, *a: Any, **k: Any) -> Any:
            seen.append((self.args, len(self.get_train_dataloader())))
            return super().train(*a, **k)

    monkeypatch.setattr(sentence_transformers, "SentenceTransformerTrainer", Spy)
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    monkeypatch.setattr(adapt_mod, "agreed_pairs", lambda texts, emb: [(0, 1), (2, 3), (4, 5)])
    info = adapt(model, TEXTS, "pseudo", steps=50, batch_size=4, seed=0, learning_rate=1e-3)
    # 3 pairs in both directions: one pass of the batches, not 50 steps; a batch never holds
    # a text twice (a pair and its reverse would make a text its own negative)
    args, batches = seen[-1]
    assert args.batch_sampler == "no_duplicates" and batches >= 2
    assert (info["method"], info["steps"], info["pairs"], info["texts"]) == (
        "pseudo", batches, 3, 24)
    assert any(not torch.equal(v, before[k]) for k, v in model.state_dict().items())
    # overlapping pairs (4 texts, 3 pairs, 6 rows) take 2 batches: steps caps the pass
    monkeypatch.setattr(adapt_mod, "agreed_pairs",
                        lambda texts, emb: [(i, i + 1) for i in range(len(texts) - 1)])
    assert adapt(model, TEXTS, "pseudo", steps=1, batch_size=4, seed=0)["steps"] == 1
    monkeypatch.setattr(adapt_mod, "agreed_pairs", lambda texts, emb: [])
    assert adapt(model, TEXTS, "pseudo", steps=5, batch_size=4, seed=0)["steps"] == 0
    simcse = adapt(model, TEXTS, "simcse", steps=2, batch_size=4, seed=0)
    assert simcse["steps"] == 2 and seen[-1][0].batch_sampler == "batch_sampler"


@pytest.mark.config_keys("train.domain_adaptation", "train.domain_adaptation_steps")
def test_train_stage_adapts_on_unlabelled_training_tickets(tmp_path: Path, tiny_model_dir: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    real = adapt_mod.adapt

    def spy(model, texts, method, steps, *a, **k):  # type: ignore[no-untyped-def]
        seen.update(texts=list(texts), method=method, steps=steps)
        return real(model, texts, method, steps, *a, **k)

    monkeypatch.setattr(adapt_mod, "adapt", spy)
    run = make_run(tmp_path / "run", "pair")
    settings = {"max_steps": 2, "eval_strategy": "no", "domain_adaptation": "simcse",
                "domain_adaptation_steps": 3}
    res = run_train(tiny_cfg(tiny_model_dir, **settings), run)
    da = res.summary["domain_adaptation"]
    assert (da["method"], da["steps"]) == ("simcse", 3) and seen["steps"] == 3
    tickets = pd.read_parquet(run.path / "ingest" / "tickets.parquet")
    split = pd.read_parquet(run.path / "pairs" / "split.parquet")
    test_ids = set(split.loc[split["split"] == "test", "id"])
    held = set(tickets.loc[tickets["id"].isin(test_ids), "text"])
    others = set(tickets.loc[~tickets["id"].isin(test_ids), "text"])
    assert set(seen["texts"]) == set(tickets.loc[~tickets["id"].isin(test_ids), "text"])
    assert not (held - others) & set(seen["texts"])  # held-out tickets' texts stay unseen
    plain = run_train(tiny_cfg(tiny_model_dir, max_steps=2, eval_strategy="no",
                               domain_adaptation="none"), make_run(tmp_path / "plain", "pair"))
    assert plain.summary["domain_adaptation"] is None
    # the default adapts on pseudo pairs (a one-pass of the pairs BM25 and the model agree on)
    default = run_train(tiny_cfg(tiny_model_dir, max_steps=2, eval_strategy="no"),
                        make_run(tmp_path / "default", "pair"))
    assert default.summary["domain_adaptation"]["method"] == "pseudo"
    assert default.summary["domain_adaptation"]["pairs"] > 0
