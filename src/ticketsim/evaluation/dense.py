"""Dense retrieval with a sentence-transformers model (base, fine-tuned or any extra folder).

Every ticket is embedded once (normalised), and a query ticket's scores are the cosine
similarities of its embedding to all tickets. Needs a model folder or name that loads
offline through :func:`ticketsim.models.load_model`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ticketsim.progress import NULL, Reporter


def encode(model: object, texts: Sequence[str], batch_size: int,
           reporter: Reporter = NULL, description: str = "embedding") -> np.ndarray:
    """Normalised embeddings of ``texts``, in batches so the reporter can show progress."""
    out = []
    starts = range(0, len(texts), batch_size)
    for s in reporter.track(starts, total=len(starts), description=description):
        out.append(model.encode(list(texts[s : s + batch_size]), batch_size=batch_size,  # type: ignore[attr-defined]
                                convert_to_numpy=True, normalize_embeddings=True,
                                show_progress_bar=False))
    if not out:
        return np.zeros((0, 1), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)


class DenseScorer:
    """Cosine scores from precomputed normalised ticket embeddings."""

    def __init__(self, name: str, embeddings: np.ndarray, model_path: str) -> None:
        self.name = name
        self.embeddings = embeddings
        self.model_path = model_path

    def __call__(self, query_idx: np.ndarray) -> np.ndarray:
        return self.embeddings[np.asarray(query_idx)] @ self.embeddings.T

    def pair_scores(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cosine similarity of ticket pairs given as index arrays."""
        return np.einsum("ij,ij->i", self.embeddings[a], self.embeddings[b])
