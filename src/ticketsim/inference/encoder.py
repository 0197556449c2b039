"""The ``Encoder`` protocol every backend implements, and the backend names.

Its own module so that the backends, the cache and the stages can all depend on it
without importing each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import combine_hashes

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


class ReadingEncoder:
    """Base of the encoders that change how a text is read (long texts, the lead view) around
    another encoder: the fingerprint names the reading, and every attribute it lacks (backend,
    tokenizer ...) is the wrapped encoder's."""

    def __init__(self, inner: Encoder, reading: str) -> None:
        self.inner = inner
        self.dim, self.max_seq_length = inner.dim, inner.max_seq_length
        self.fingerprint = combine_hashes(inner.fingerprint, reading)

    def __getattr__(self, name: str) -> Any:
        if name == "encoder":  # callers unwrap an embedding cache by .encoder: not this one
            raise AttributeError(name)
        inner = self.__dict__["inner"]
        if not hasattr(inner, name):  # the model under an embedding cache (its tokenizer ...)
            inner = getattr(inner, "encoder", inner)
        return getattr(inner, name)
