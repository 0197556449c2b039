"""Domain adaptation before fine-tuning: learn from the desk's whole history, not only its links.

``train.domain_adaptation`` runs ``train.domain_adaptation_steps`` unsupervised steps of
sentence-transformers' trainer on the run's unlabelled ticket texts (held-out tickets
excluded) before the supervised fine-tuning starts, on the same model in memory:

- ``simcse``: each text paired with itself under MultipleNegativesRankingLoss; dropout
  makes the two views differ (Gao et al. 2021, unsupervised SimCSE);
- ``tsdae``: DenoisingAutoEncoderLoss (Wang et al. 2021): a decoder tied to the encoder
  rebuilds each text from the embedding of a copy with 60 % of its words deleted. The
  noise is a plain word deletion here (sentence-transformers' dataset needs nltk);
- ``pseudo``: pseudo-positive pairs from the history itself: two tickets whose best match
  is the other by both BM25 and the model being adapted (the product's keyword engine,
  bm25s set up like FTS5), under MultipleNegativesRankingLoss, both directions, one pass
  over the pairs (``steps`` caps it). Where two unrelated rankers agree, the pair is most
  often the same issue; the links are not used, so no held-out link can leak in.
"""

from __future__ import annotations

import math
import random
import tempfile
import time
from typing import Any

import numpy as np

from ticketsim.progress import NULL, Reporter
from ticketsim.retrieval.keyword import KeywordRows

DELETE_RATIO = 0.6  # TSDAE's best deletion ratio in the paper


def delete_words(text: str, rng: random.Random, ratio: float = DELETE_RATIO) -> str:
    """``text`` with about ``ratio`` of its words deleted (at least one kept)."""
    words = text.split()
    if not words:
        return text
    kept = [w for w in words if rng.random() > ratio]
    return " ".join(kept) if kept else rng.choice(words)


def adaptation_texts(texts: list[str], n: int, seed: int) -> list[str]:
    """Up to ``n`` distinct non-empty texts, in a seeded random order."""
    uniq = sorted({t.strip() for t in texts if t and t.strip()})
    random.Random(seed).shuffle(uniq)
    return uniq[:n]


def agreed_pairs(texts: list[str], embeddings: np.ndarray, chunk: int = 512,
                 ) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, where j is i's best match (itself left out) both by BM25 and by
    the (normalised) ``embeddings``, or the other way round; in text order."""
    n = len(texts)
    rows = KeywordRows(texts, limit=min(n, 2))  # the best two: itself and its best match
    pairs: set[tuple[int, int]] = set()
    for start in range(0, n, chunk):
        q = np.arange(start, min(start + chunk, n))
        kw = rows(q).astype(np.float64)
        dense = embeddings[q] @ embeddings.T
        kw[np.arange(len(q)), q] = -np.inf
        dense[np.arange(len(q)), q] = -np.inf
        kbest, dbest = kw.argmax(axis=1), dense.argmax(axis=1)
        for i, k, d, score in zip(q, kbest, dbest, kw[np.arange(len(q)), kbest], strict=True):
            if k == d and score > 0:
                pairs.add((int(min(i, k)), int(max(i, k))))
    return sorted(pairs)


def adapt(model: Any, texts: list[str], method: str, steps: int, batch_size: int, seed: int,
          learning_rate: float = 3e-5, reporter: Reporter = NULL) -> dict[str, Any]:
    """Train ``model`` in place for ``steps`` unsupervised steps; what was done."""
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import (
        DenoisingAutoEncoderLoss,
        MultipleNegativesRankingLoss,
    )

    chosen = adaptation_texts(texts, steps * batch_size, seed)
    if len(chosen) < 2:
        return {"method": method, "steps": 0, "texts": len(chosen), "skipped": "too few texts"}
    rng = random.Random(seed)
    loss: Any
    max_steps, sampler = steps, "batch_sampler"
    extra: dict[str, int] = {}  # what the summary adds for this method
    if method == "simcse":
        ds = Dataset.from_dict({"anchor": chosen, "positive": chosen})
        loss = MultipleNegativesRankingLoss(model)
    elif method == "pseudo":
        emb = np.asarray(model.encode(chosen, batch_size=batch_size, normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False))
        agreed = agreed_pairs(chosen, emb)
        if not agreed:
            return {"method": method, "steps": 0, "texts": len(chosen), "pairs": 0,
                    "skipped": "BM25 and the model agree on no best match"}
        a = [chosen[i] for i, _ in agreed] + [chosen[j] for _, j in agreed]
        b = [chosen[j] for _, j in agreed] + [chosen[i] for i, _ in agreed]
        ds = Dataset.from_dict({"anchor": a, "positive": b})
        loss = MultipleNegativesRankingLoss(model)
        extra = {"pairs": len(agreed)}
        # one pass over the pairs (steps caps it); batches without a repeated text: a pair
        # and its reverse, or two pairs sharing a ticket, in one batch would make a text its
        # own in-batch negative
        one_pass = math.ceil(len(a) / batch_size)
        max_steps, sampler = (steps if steps < one_pass else -1), "no_duplicates"
    elif method == "tsdae":
        ds = Dataset.from_dict({"damaged": [delete_words(t, rng) for t in chosen],
                                "original": chosen})
        loss = DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True)
    else:
        raise ValueError(f"unknown domain adaptation {method!r}")
    reporter.log(f"train: domain adaptation ({method}), "
                 + (f"one pass over {extra['pairs']} agreed pairs of " if extra else
                    f"{steps} steps on ")
                 + f"{len(chosen)} unlabelled tickets")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ticketsim-adapt-") as out:
        args = SentenceTransformerTrainingArguments(
            output_dir=out, max_steps=max_steps, num_train_epochs=1, batch_sampler=sampler,
            per_device_train_batch_size=batch_size,
            learning_rate=learning_rate, warmup_steps=0, seed=seed, save_strategy="no",
            eval_strategy="no", logging_steps=max(1, steps // 10), report_to=[],
            use_cpu=str(model.device) == "cpu", disable_tqdm=True)
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds, loss=loss)
        result = trainer.train()
    return {"method": method, "steps": int(trainer.state.global_step), "texts": len(chosen),
            **extra, "loss": float(result.training_loss), "seconds": round(time.perf_counter() - start, 1)}
