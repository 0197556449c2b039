"""MatryoshkaLoss wrapper: train truncated embeddings too.

What: applies the configured loss to the first d dimensions of each embedding for
every d in ``losses.matryoshka.dims`` and sums the weighted results.
When: the index should be cheaper (e.g. 128 of MiniLM's 384 dimensions: 3x less
memory, faster search) at a small loss of quality. Wraps any loss.
Needs: whatever the wrapped loss needs; dims no larger than the model's dimension.
"""

from __future__ import annotations

from typing import Any

from ticketsim.errors import TicketsimError


def wrap(model: Any, loss: Any, params: Any) -> Any:
    from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss

    dim = model.get_embedding_dimension()
    if dim is not None and max(params.dims) > dim:
        raise TicketsimError(
            f"matryoshka dims {params.dims} exceed the model's embedding dimension {dim}",
            field="train.losses.matryoshka.dims", hint=f"use sizes up to {dim}",
        )
    weights = params.weights or [1.0] * len(params.dims)
    if len(weights) != len(params.dims):
        raise TicketsimError(
            f"{len(weights)} matryoshka weights for {len(params.dims)} dims",
            field="train.losses.matryoshka.weights", hint="give one weight per size, or null",
        )
    return MatryoshkaLoss(model, loss, matryoshka_dims=list(params.dims), matryoshka_weights=weights)
