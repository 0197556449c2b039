"""Length-sorted batching shared by every backend: tokenise once, pad each batch to its own longest text.

Ticket texts vary from five tokens to the model's limit; batching them in input order
pads every short ticket to the longest one in its batch. Sorting by token length first
and restoring the order afterwards keeps results identical while computing far fewer
padding positions.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ticketsim.progress import Reporter

try:  # optional: without it, logical cores stand in for physical ones
    import psutil
except ImportError:  # pragma: no cover - installed with accelerate
    psutil = None


def physical_cores() -> int:
    """Physical cores this process may use: the right intra-op thread count for matmul-bound work."""
    try:
        allowed = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        allowed = os.cpu_count() or 1
    phys = (psutil.cpu_count(logical=False) if psutil is not None else None) or allowed
    return max(1, min(phys, allowed))


@dataclass
class Tokenized:
    """Token ids of every text (truncated, unpadded) and which model inputs to build."""

    ids: list[list[int]]
    type_ids: list[list[int]] | None
    lengths: np.ndarray


def tokenize(tokenizer: Any, texts: Sequence[str], max_seq_length: int) -> Tokenized:
    """Tokenise all texts once with the fast tokenizer, truncated to ``max_seq_length``, no padding."""
    enc = tokenizer(list(texts), truncation=True, max_length=max_seq_length, padding=False)
    ids = enc["input_ids"]
    type_ids = enc.get("token_type_ids")
    return Tokenized(ids=ids, type_ids=type_ids,
                     lengths=np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids)))


def length_sorted_batches(lengths: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Index arrays of batches, longest texts first (a stable sort, so ties keep input order)."""
    if batch_size <= 0:
        raise ValueError("batch_size must be positive")
    order = np.argsort(-np.asarray(lengths), kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def pad_batch(tok: Tokenized, idx: np.ndarray, pad_id: int, names: Sequence[str]) -> dict[str, np.ndarray]:
    """int64 arrays for ``names`` (input_ids, attention_mask, token_type_ids) padded to the batch's longest."""
    width = int(tok.lengths[idx].max())
    ids = np.full((len(idx), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(idx), width), dtype=np.int64)
    types = np.zeros((len(idx), width), dtype=np.int64)
    for row, i in enumerate(idx):
        n = int(tok.lengths[i])
        ids[row, :n] = tok.ids[i]
        mask[row, :n] = 1
        if tok.type_ids is not None:
            types[row, :n] = tok.type_ids[i]
    out = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    return {n: out[n] for n in names}


def n_batches(n: int, batch_size: int) -> int:
    return (n + batch_size - 1) // batch_size


def encode_in_batches(texts: Sequence[str], dim: int, tokenizer: Any, max_seq_length: int,
                      input_names: Sequence[str], batch_size: int, reporter: Reporter,
                      description: str,
                      run: Callable[[dict[str, np.ndarray]], np.ndarray]) -> np.ndarray:
    """What every backend's ``encode`` does around its model call.

    Tokenise once, feed ``run`` padded length-sorted batches (input name -> int64 array),
    and put the embeddings it returns back in input order.
    """
    out = np.zeros((len(texts), dim), dtype=np.float32)
    if not len(texts):
        return out
    tok = tokenize(tokenizer, texts, max_seq_length)
    pad = tokenizer.pad_token_id or 0
    for idx in reporter.track(length_sorted_batches(tok.lengths, batch_size),
                              total=n_batches(len(texts), batch_size), description=description):
        out[idx] = run(pad_batch(tok, idx, pad, input_names))
    return out
