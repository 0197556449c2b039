"""Training-data formats, shared by the pairs stage (which writes them) and train (which reads them).

Each sentence-transformers loss wants its dataset columns in one shape; the pairs
stage asks :func:`columns_for` which shape the configured loss needs and fails
early when the data cannot produce it.
"""

from __future__ import annotations

from typing import Literal

Format = Literal["pair", "triplet", "ntuple", "labelled", "scored"]

FORMAT_COLUMNS: dict[str, list[str]] = {
    "pair": ["anchor", "positive"],
    "triplet": ["anchor", "positive", "negative"],
    "ntuple": ["anchor", "positive"],  # + negative_1 .. negative_n
    "labelled": ["sentence1", "sentence2", "label"],
    "scored": ["sentence1", "sentence2", "score"],
}

FORMAT_HELP: dict[str, str] = {
    "pair": "(anchor, positive) pairs",
    "triplet": "(anchor, positive, negative) triplets",
    "ntuple": "(anchor, positive, negative_1..negative_n) tuples",
    "labelled": "(sentence1, sentence2, label 0/1) labelled pairs",
    "scored": "(sentence1, sentence2, score 0..1) scored pairs",
}


def columns_for(fmt: str, num_negatives: int = 1) -> list[str]:
    """Dataset columns of a format (ntuple: with ``num_negatives`` negative columns)."""
    cols = list(FORMAT_COLUMNS[fmt])
    if fmt == "ntuple":
        cols += [f"negative_{i + 1}" for i in range(num_negatives)]
    return cols
