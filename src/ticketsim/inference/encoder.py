"""The ``Encoder`` protocol every backend implements, and the backend names.

Its own module so that the backends, the cache and the stages can all depend on it
without importing each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from ticketsim.progress import NULL, Reporter

Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[str, ...] = ("torch", "onnx", "onnx-int8")


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into normalised float32 embeddings, one row per text, in input order."""

    fingerprint: str
    """Identifies model weights + backend + max_seq_length: the embedding cache's key."""
    dim: int
    max_seq_length: int

    def encode(self, texts: Sequence[str], batch_size: int = 64,
               reporter: Reporter = NULL) -> np.ndarray:
        """Embeddings of ``texts`` as an ``(n, dim)`` float32 array with unit rows."""
        ...
