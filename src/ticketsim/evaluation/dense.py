"""Dense retrieval with a sentence-transformers model (base, fine-tuned or any extra folder).

Every ticket is embedded once (normalised, through :func:`ticketsim.inference.encoder_for`,
so the run's embedding cache and the ONNX backends apply), and a query ticket's scores are
the cosine similarities of its embedding to all tickets.
"""

from __future__ import annotations

import numpy as np

from ticketsim.config import Config
from ticketsim.inference import pick_backend
from ticketsim.progress import Reporter
from ticketsim.rundir import RunDir


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


def resolve_encoder(cfg: Config, run: RunDir, path: str, texts: list[str], notes: list[str],
                    name: str, reporter: Reporter) -> str:
    """index.encoder, with ``auto`` decided per model on the run's texts (said in the notes)."""
    if cfg.index.encoder != "auto":
        return cfg.index.encoder
    backend, agree = pick_backend(path, texts, cache_dir=run.path / "cache",
                                  min_cosine=cfg.index.int8_min_cosine, reporter=reporter)
    notes.append(f"encoder auto: {name} embedded by {backend} (int8 vs torch mean cosine "
                 f"{agree['cosine_mean']:.4f} on {agree['sample']} tickets, needs "
                 f"{agree['min_cosine']})")
    return backend
