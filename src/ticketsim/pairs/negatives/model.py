"""Model negatives: tickets a pretrained embedding model finds close to the anchor, yet unrelated.

Pick it when keyword overlap is not what confuses the model (paraphrases, other
languages): negatives then sit where the base model itself is wrong, the most useful
place for fine-tuning to move them. Needs an embedding model (``negatives.model``);
embeddings go through :func:`ticketsim.inference.encoder_for` and its
:class:`~ticketsim.inference.cache.CachedEncoder` (``<run dir>/cache/embeddings.sqlite``),
the cache every stage shares, so a rerun with other mining settings does not encode again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ticketsim.inference import encoder_for
from ticketsim.models import resolve_model
from ticketsim.progress import NULL, Reporter


class ModelMiner:
    """Cosine similarity under a sentence-transformers model (the run's cached encoder)."""

    name = "model"

    def __init__(self, model_name: str, texts: Sequence[str], *, batch_size: int = 64,
                 cache_dir: Path | None = None, reporter: Reporter = NULL) -> None:
        self.path = resolve_model(model_name)
        self.encoder = encoder_for(self.path, "torch", cache_dir=cache_dir, reporter=reporter)
        self.batch_size = batch_size
        self.reporter = reporter
        self._texts = list(texts)
        self._corpus: np.ndarray | None = None

    @property
    def corpus(self) -> np.ndarray:
        """Corpus embeddings, encoded on first use (the hardness report alone never needs them)."""
        if self._corpus is None:
            self._corpus = self.encode(self._texts)
        return self._corpus

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalised embeddings (cached by model fingerprint and text)."""
        if not texts:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        return self.encoder.encode(texts, self.batch_size, self.reporter)

    def scores(self, queries: list[str]) -> np.ndarray:
        return self.encode(list(queries)) @ self.corpus.T

    def pair_similarity(self, a: list[str], b: list[str]) -> np.ndarray:
        """Cosine similarity of ``a[i]`` and ``b[i]``."""
        ea, eb = self.encode(a), self.encode(b)
        return (ea * eb).sum(axis=1)
