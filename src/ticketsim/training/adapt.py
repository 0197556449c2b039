"""Domain adaptation before fine-tuning: learn from the desk's whole history, not only its links.

``train.domain_adaptation`` runs ``train.domain_adaptation_steps`` unsupervised steps of
sentence-transformers' trainer on the run's unlabelled ticket texts (held-out tickets
excluded) before the supervised fine-tuning starts, on the same model in memory:

- ``simcse``: each text paired with itself under MultipleNegativesRankingLoss; dropout
  makes the two views differ (Gao et al. 2021, unsupervised SimCSE);
- ``tsdae``: DenoisingAutoEncoderLoss (Wang et al. 2021): a decoder tied to the encoder
  rebuilds each text from the embedding of a copy with 60 % of its words deleted. The
  noise is a plain word deletion here (sentence-transformers' dataset needs nltk).
"""

from __future__ import annotations

import random
import tempfile
import time
from typing import Any

from ticketsim.progress import NULL, Reporter

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
    if method == "simcse":
        ds = Dataset.from_dict({"anchor": chosen, "positive": chosen})
        loss = MultipleNegativesRankingLoss(model)
    elif method == "tsdae":
        ds = Dataset.from_dict({"damaged": [delete_words(t, rng) for t in chosen],
                                "original": chosen})
        loss = DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True)
    else:
        raise ValueError(f"unknown domain adaptation {method!r}")
    reporter.log(f"train: domain adaptation ({method}), {steps} steps on {len(chosen)} "
                 "unlabelled tickets")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ticketsim-adapt-") as out:
        args = SentenceTransformerTrainingArguments(
            output_dir=out, max_steps=steps, per_device_train_batch_size=batch_size,
            learning_rate=learning_rate, warmup_steps=0, seed=seed, save_strategy="no",
            eval_strategy="no", logging_steps=max(1, steps // 10), report_to=[],
            use_cpu=str(model.device) == "cpu", disable_tqdm=True)
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds, loss=loss)
        result = trainer.train()
    return {"method": method, "steps": int(trainer.state.global_step), "texts": len(chosen),
            "loss": float(result.training_loss), "seconds": round(time.perf_counter() - start, 1)}
