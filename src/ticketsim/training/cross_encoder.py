"""A re-ranker trained on the desk's own links: sentence-transformers' CrossEncoder training.

The bi-encoder ranks the whole history; a cross-encoder reads the query and one candidate
together and re-scores the first stage's top k (``search.cross_encoder``, the re-ranked
retriever). This module builds its training set and trains it, nothing more:

- **pairs**: every known positive link in both directions as (query, passage, 1), plus
  hard negatives mined by sentence-transformers' ``mine_hard_negatives`` with the base
  bi-encoder over the whole history (``labeled-pair`` output, label 0). A relative margin
  drops candidates scoring within ``relative_margin`` of the positive, which are often
  unlinked duplicates (and the query's own text);
- **training**: ``CrossEncoderTrainer`` with ``BinaryCrossEntropyLoss`` (positives
  weighted by the negatives per positive, so the classes count alike), initialised from
  the bundled all-MiniLM-L6-v2 (or any local folder), which sentence-transformers
  converts to a ``BertForSequenceClassification`` with a fresh one-logit head;
- **output**: a standard CrossEncoder folder (``train/cross_encoder`` in a run) that
  ``CrossEncoder(folder)`` and therefore ``search.cross_encoder`` load.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ticketsim.data.ingest import IngestOutput
from ticketsim.errors import TicketsimError
from ticketsim.models import resolve_model
from ticketsim.pairs.stage import PairsOutput
from ticketsim.progress import NULL, Reporter

if TYPE_CHECKING:
    import pandas as pd

OUTPUT = "cross_encoder"


def reranker_pairs(texts: Sequence[str], links: Sequence[tuple[int, int]], miner: str, *,
                   negatives: int = 3, range_max: int = 30, relative_margin: float = 0.05,
                   batch_size: int = 64) -> pd.DataFrame:
    """(query, passage, label) rows: each link both ways, plus mined hard negatives."""
    import pandas as pd
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import mine_hard_negatives

    anchors, positives = [], []
    for a, b in links:
        for x, y in ((a, b), (b, a)):
            anchors.append(texts[x])
            positives.append(texts[y])
    if not anchors:
        return pd.DataFrame({"query": [], "passage": [], "label": []})
    model = SentenceTransformer(miner, device="cpu")
    mined = mine_hard_negatives(
        Dataset.from_dict({"query": anchors, "passage": positives}), model,
        corpus=list(dict.fromkeys(texts)), range_max=min(range_max, len(set(texts)) - 1),
        relative_margin=relative_margin, num_negatives=negatives, sampling_strategy="top",
        output_format="labeled-pair", batch_size=batch_size, verbose=False)
    df = mined.to_pandas()
    assert isinstance(df, pd.DataFrame)
    df.columns = ["query", "passage", "label"]
    return df.drop_duplicates(subset=["query", "passage"]).reset_index(drop=True)


def train_cross_encoder(pairs: pd.DataFrame, base_model: str, out: Path, *, epochs: float = 1.0,
                        batch_size: int = 16, learning_rate: float = 2e-5, max_length: int = 256,
                        seed: int = 42, work_dir: Path | None = None,
                        reporter: Reporter = NULL) -> dict[str, Any]:
    """Train on ``pairs`` and save a CrossEncoder folder at ``out``; returns a summary."""
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    n_pos = int((pairs["label"] == 1).sum())
    n_neg = int(len(pairs) - n_pos)
    if n_pos == 0 or n_neg == 0:
        raise TicketsimError(f"the re-ranker needs positive and negative pairs (got {n_pos} "
                             f"positive, {n_neg} negative)", field="train.cross_encoder",
                             hint="it needs known links between training tickets; with no negatives, "
                             "lower train.cross_encoder.relative_margin")
    model = CrossEncoder(base_model, num_labels=1, max_length=max_length, device="cpu")
    loss = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor(n_neg / n_pos))
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        args = CrossEncoderTrainingArguments(
            output_dir=tmp, num_train_epochs=epochs, per_device_train_batch_size=batch_size,
            learning_rate=learning_rate, warmup_steps=0.1, seed=seed, data_seed=seed,
            save_strategy="no", report_to="none", logging_steps=10, use_cpu=True,
            disable_tqdm=True)
        ds = Dataset.from_pandas(pairs[["query", "passage", "label"]].astype(
            {"label": "float32"}), preserve_index=False)
        trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=ds, loss=loss)
        reporter.log(f"train: cross-encoder on {n_pos} positive and {n_neg} negative pairs")
        result = trainer.train()
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    return {"positives": n_pos, "negatives": n_neg, "steps": int(result.global_step),
            "train_loss": round(float(result.training_loss), 4), "base_model": str(base_model),
            "max_length": int(model.max_length), "epochs": float(trainer.args.num_train_epochs),
            "batch_size": int(trainer.args.per_device_train_batch_size),
            "learning_rate": float(trainer.args.learning_rate)}


def train_from_run(cfg: Any, run: Any, out: Path, *, reporter: Reporter = NULL) -> dict[str, Any]:
    """The train stage's hook: the run's training-split links -> ``out`` (a CrossEncoder folder).

    Only links whose two tickets are both in the ``train`` split are used, so evaluation
    tickets stay unseen; negatives are mined over every ticket's text (no labels)."""
    import pandas as pd

    cc = cfg.train.cross_encoder
    ingest = IngestOutput.read(run, "the re-ranker")
    tickets = ingest.tickets(columns=["id", "text"])
    split = PairsOutput.read(run, "the re-ranker").split()
    train_ids = set(split.loc[split["split"] == "train", "id"].astype(str))
    index = {str(t): i for i, t in enumerate(tickets["id"].astype(str))}
    links: list[tuple[int, int]] = []
    if ingest.links_path.is_file():
        df = ingest.links()
        lab = df["label"].fillna(1).astype(int) if "label" in df.columns else pd.Series(1, index=df.index)
        for a, b, y in zip(df["a"].astype(str), df["b"].astype(str), lab, strict=True):
            if y == 1 and a in train_ids and b in train_ids and a in index and b in index:
                links.append((index[a], index[b]))
    base = resolve_model(cc.base_model or cfg.train.base_model)
    texts = tickets["text"].fillna("").astype(str).tolist()
    reporter.log(f"train: mining re-ranker negatives for {len(links)} training links")
    pairs = reranker_pairs(texts, links, base, negatives=cc.negatives,
                           relative_margin=cc.relative_margin)
    summary = train_cross_encoder(pairs, base, out, epochs=cc.epochs, batch_size=cc.batch_size,
                                  learning_rate=cc.learning_rate, max_length=cc.max_length,
                                  seed=cfg.train.seed, work_dir=run.path, reporter=reporter)
    return {"links": len(links), **summary}
