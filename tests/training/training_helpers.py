"""Helpers for the train-stage tests: a run directory with ingest and pairs outputs made by hand.

The pairs stage is someone else's; these tests only need its artifacts in the contract's
shape (docs/artifacts.md), so they are written directly, small, from the tiny model's
vocabulary.
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

from ticketsim.config import Config, TrainConfig, config_from_dict
from ticketsim.rundir import RunDir, atomic_write_json

TOPICS = [
    ["vpn", "network", "connect", "wifi", "token"],
    ["outlook", "email", "meeting", "teams", "update"],
    ["printer", "print", "jam", "toner", "driver"],
    ["password", "reset", "account", "locked", "login"],
    ["laptop", "battery", "keyboard", "screen", "docking"],
    ["sap", "erp", "payroll", "hr", "license"],
    ["excel", "word", "pdf", "crash", "software"],
    ["badge", "access", "share", "drive", "folder"],
]
FILLER = ["the", "is", "not", "my", "on", "with", "please", "help", "again", "user", "since"]


def _text(rng: random.Random, topic: int) -> str:
    words = rng.sample(TOPICS[topic], 3) + rng.sample(FILLER, 3)
    rng.shuffle(words)
    return " ".join(words)


def make_run(root: Path, fmt: str = "pair", n_tickets: int = 96, seed: int = 0,
             n_negatives: int = 1) -> RunDir:
    """Ingest + pairs artifacts for ``n_tickets`` tickets over 8 topics in format ``fmt``."""
    rng = random.Random(seed)
    run = RunDir(root)
    ids = [f"T{i:04d}" for i in range(n_tickets)]
    topic = {t: i % len(TOPICS) for i, t in enumerate(ids)}
    text = {t: _text(rng, topic[t]) for t in ids}
    (root / "ingest").mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": ids, "text": [text[t] for t in ids],
                  "category": [str(topic[t]) for t in ids]}).to_parquet(root / "ingest" / "tickets.parquet")
    atomic_write_json(root / "ingest" / "_stamp.json", {"stage": "ingest", "inputs_hash": "ing"})
    split = {t: ("test" if i % 10 == 0 else "validation" if i % 10 == 1 else "train")
             for i, t in enumerate(ids)}
    pairs_dir = root / "pairs"
    pairs_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": ids, "split": [split[t] for t in ids]}).to_parquet(pairs_dir / "split.parquet")

    def rows(which: str) -> pd.DataFrame:
        mine = [t for t in ids if split[t] == which]
        out = []
        for a in mine:
            same = [b for b in mine if b != a and topic[b] == topic[a]]
            other = [b for b in mine if topic[b] != topic[a]]
            if not same:
                continue
            p = rng.choice(same)
            negs = rng.sample(other, n_negatives)
            if fmt == "pair":
                out.append({"anchor": text[a], "positive": text[p]})
            elif fmt == "triplet":
                out.append({"anchor": text[a], "positive": text[p], "negative": text[negs[0]]})
            elif fmt == "ntuple":
                out.append({"anchor": text[a], "positive": text[p],
                            **{f"negative_{j + 1}": text[n] for j, n in enumerate(negs)}})
            elif fmt == "labelled":
                out.append({"sentence1": text[a], "sentence2": text[p], "label": 1})
                out.append({"sentence1": text[a], "sentence2": text[negs[0]], "label": 0})
            elif fmt == "scored":
                out.append({"sentence1": text[a], "sentence2": text[p], "score": 1.0})
                out.append({"sentence1": text[a], "sentence2": text[negs[0]], "score": 0.0})
        return pd.DataFrame(out)

    rows("train").to_parquet(pairs_dir / "train.parquet")
    rows("validation").to_parquet(pairs_dir / "validation.parquet")
    val = [t for t in ids if split[t] == "validation"]
    links = [{"a": a, "b": b} for a in val for b in ids
             if b != a and split[b] != "test" and topic[b] == topic[a]][: 4 * len(val)]
    pd.DataFrame(links).to_parquet(pairs_dir / "validation_links.parquet")
    atomic_write_json(pairs_dir / "_stamp.json", {"stage": "pairs", "inputs_hash": f"pairs-{fmt}"})
    return run


def tiny_cfg(model_dir: Path, **train: object) -> Config:
    """A config training the tiny model quickly (few steps, small batches, fp32).

    Keyword arguments that are not train keys are trainer arguments (``train.trainer``)."""
    own = {k: v for k, v in train.items() if k in TrainConfig.model_fields}
    hf = {k: v for k, v in train.items() if k not in own}
    tree = {"train": {"base_model": str(model_dir), "batch_size": 8, "max_seq_length": 32,
                      "learning_rate": 1e-3, **own,
                      "trainer": {"num_train_epochs": 1, "eval_steps": 4, "save_steps": 4,
                                  "logging_steps": 1, **hf}}}
    return config_from_dict(tree)


def built_trainer(tmp: Path, model_dir: Path, fmt: str = "pair", evaluator: bool = True,
                  steps: int = 100, **train: object):  # type: ignore[no-untyped-def]
    """(trainer, model, cfg) built like the stage builds them, optimizer and scheduler created."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer

    from ticketsim.training.evaluator import build_evaluator
    from ticketsim.training.trainer import build_trainer

    run = make_run(tmp / f"run-{fmt}", fmt)
    cfg = tiny_cfg(model_dir, **train)
    model = SentenceTransformer(str(model_dir), device="cpu")
    if cfg.train.lora.enabled:
        from ticketsim.training.lora import add_lora

        add_lora(model, cfg.train.lora)
    ev = None
    if evaluator:
        ev = build_evaluator(pd.read_parquet(run.path / "ingest" / "tickets.parquet"),
                             pd.read_parquet(run.path / "pairs" / "split.parquet"),
                             pd.read_parquet(run.path / "pairs" / "validation_links.parquet"),
                             cfg.train.eval_max_queries, 16, cfg.train.seed)
    ds = Dataset.from_pandas(pd.read_parquet(run.path / "pairs" / "train.parquet"))
    trainer = build_trainer(model, cfg.train, ds, None, ev, tmp / "ck", use_cpu=True)
    trainer.create_optimizer_and_scheduler(num_training_steps=steps)
    return trainer, model, cfg


def build_word_model(folder: Path, dim: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """The shared tiny model, with a tokenizer trained on the training topics' words."""
    from tinymodel import build_tiny_model

    words = sorted({w for t in TOPICS for w in t} | set(FILLER))
    return build_tiny_model(folder, dim=dim, layers=layers, seed=seed, words=words)
