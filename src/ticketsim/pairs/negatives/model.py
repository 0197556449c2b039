"""Model negatives: tickets a pretrained embedding model finds close to the anchor, yet unrelated.

Pick it when keyword overlap is not what confuses the model (paraphrases, other
languages): negatives then sit where the base model itself is wrong, the most useful
place for fine-tuning to move them. Needs an embedding model (``negatives.model``);
embeddings are cached in ``<run dir>/cache/embeddings.sqlite``, so a rerun with other
mining settings does not encode again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ticketsim.inference.cache import EmbeddingCache, text_key
from ticketsim.models import load_model, model_fingerprint, resolve_model
from ticketsim.progress import NULL, Reporter


class ModelMiner:
    """Cosine similarity under a sentence-transformers model, with an on-disk embedding cache."""

    name = "model"

    def __init__(self, model_name: str, texts: Sequence[str], *, batch_size: int = 64,
                 cache_path: Path | None = None, reporter: Reporter = NULL) -> None:
        self.path = resolve_model(model_name)
        self.model = load_model(self.path, device="cpu")
        self.fingerprint = model_fingerprint(self.path) + f"-{self.model.max_seq_length}"
        self.batch_size = batch_size
        self.cache_path = cache_path
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
        """Normalised embeddings, read from / written to the run's embedding cache."""
        if not texts:
            return np.zeros((0, self.model.get_embedding_dimension() or 1), dtype=np.float32)
        cache = keys = None
        found: dict[bytes, np.ndarray] = {}
        if self.cache_path is not None:
            cache = EmbeddingCache(self.cache_path)
            keys = [text_key(t) for t in texts]
            found = cache.get(self.fingerprint, keys)
        missing = [i for i in range(len(texts)) if keys is None or keys[i] not in found]
        vecs: list[np.ndarray] = []
        starts = range(0, len(missing), self.batch_size)
        for s in self.reporter.track(starts, total=len(starts), description="embedding tickets"):
            part = [texts[i] for i in missing[s:s + self.batch_size]]
            vecs.append(self.model.encode(part, batch_size=self.batch_size,
                                          normalize_embeddings=True, convert_to_numpy=True,
                                          show_progress_bar=False).astype(np.float32))
        dim = vecs[0].shape[1] if vecs else next(iter(found.values())).shape[0]
        out = np.zeros((len(texts), dim), dtype=np.float32)
        if vecs:
            new = np.concatenate(vecs)
            out[missing] = new
            if cache is not None and keys is not None:
                cache.put(self.fingerprint, [keys[i] for i in missing], new)
        if keys is not None:
            for i, k in enumerate(keys):
                if k in found:
                    out[i] = found[k]
        if cache is not None:
            cache.close()
        return out

    def scores(self, queries: list[str]) -> np.ndarray:
        return self.encode(list(queries)) @ self.corpus.T

    def pair_similarity(self, a: list[str], b: list[str]) -> np.ndarray:
        """Cosine similarity of ``a[i]`` and ``b[i]``."""
        ea, eb = self.encode(a), self.encode(b)
        return (ea * eb).sum(axis=1)
