"""Dense retrieval with a sentence-transformers model (base, fine-tuned or any extra folder).

Every ticket is embedded once (normalised, through :func:`ticketsim.inference.encoder_for`,
so the run's embedding cache and the ONNX backends apply), and a query ticket's scores are
the cosine similarities of its embedding to all tickets.
"""

from __future__ import annotations

import numpy as np


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
