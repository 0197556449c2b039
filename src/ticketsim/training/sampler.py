"""Length-grouped batches for training: short tickets are not padded to long ones.

sentence-transformers pads each column of a batch to its longest text, so a batch that
mixes a 12-token ticket with a 128-token one computes 116 padding positions for the short
one. sentence-transformers 6.2 has no length-grouped sampler (transformers'
``group_by_length`` is ignored by its trainer), so this is one, passed to the trainer as
``batch_sampler`` (a callable it accepts; this module is imported only when training): each epoch shuffles the rows, cuts them into
windows of ``group`` batches, sorts each window by token length and cuts it into batches,
then shuffles the order of the batches. Rows stay random within a window, so in-batch
negatives (MNRL) are still random tickets of similar length; ``group`` trades padding
against that randomness (docs/training.md gives the measured effect on speed and quality).
With ``no_duplicates`` a text never appears twice in a batch (as sentence-transformers'
NoDuplicatesBatchSampler guarantees), since a copy would be a false in-batch negative.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from sentence_transformers.base.sampler import DefaultBatchSampler

LABEL_COLUMNS = ("label", "score")


def text_columns(dataset: Any, valid_label_columns: list[str] | None = None) -> list[str]:
    skip = set(LABEL_COLUMNS) | set(valid_label_columns or [])
    return [c for c in dataset.column_names if c not in skip]


def row_lengths(dataset: Any, tokenizer: Any, max_length: int,
                valid_label_columns: list[str] | None = None) -> np.ndarray:
    """Per row, the summed token length of its text columns, each cut at ``max_length``.

    The sum is what a row costs in a batch padded per column. Each distinct text is
    tokenised once.
    """
    total = np.zeros(len(dataset), dtype=np.int64)
    for col in text_columns(dataset, valid_label_columns):
        values = [str(v) for v in dataset[col]]
        uniq = list(dict.fromkeys(values))
        enc = tokenizer(uniq, truncation=True, max_length=max_length, padding=False)["input_ids"]
        n = {t: len(ids) for t, ids in zip(uniq, enc, strict=True)}
        total += np.fromiter((n[v] for v in values), dtype=np.int64, count=len(values))
    return total


def grouped_batches(lengths: np.ndarray, batch_size: int, group: int, rng: np.random.Generator,
                    values: list[frozenset[str]] | None = None,
                    drop_last: bool = False) -> list[list[int]]:
    """One epoch of batches: shuffled rows, windows of ``group`` batches sorted by length.

    ``values``: each row's texts; when given, no text is in a batch twice (a row that
    would repeat one waits for the next batch of its window, or moves on to the next
    window). Batches come out in shuffled order; only the last may be short.
    """
    n = len(lengths)
    perm = rng.permutation(n)
    window = max(1, group) * batch_size
    batches: list[list[int]] = []
    carry: list[int] = []  # rows that did not fit their window's batches
    for start in range(0, n, window):
        rows = carry + perm[start:start + window].tolist()
        rows.sort(key=lambda i: -int(lengths[i]))
        carry = []
        while len(rows) >= batch_size or (rows and start + window >= n):
            batch: list[int] = []
            seen: set[str] = set()
            rest: list[int] = []
            for i in rows:
                if len(batch) < batch_size and (values is None or seen.isdisjoint(values[i])):
                    batch.append(i)
                    if values is not None:
                        seen.update(values[i])
                else:
                    rest.append(i)
            if len(batch) < batch_size and start + window < n:
                carry = batch + rest  # an incomplete batch waits for the next window's rows
                rows = []
                break
            batches.append(batch)
            rows = rest
        carry = carry or rows
    if drop_last:
        batches = [b for b in batches if len(b) == batch_size]
    order = rng.permutation(len(batches))
    return [batches[k] for k in order]


class LengthGroupedBatchSampler(DefaultBatchSampler):
    """A sentence-transformers batch sampler over :func:`grouped_batches`."""

    def __init__(self, dataset: Any, batch_size: int, drop_last: bool,
                 valid_label_columns: list[str] | None = None, generator: Any = None,
                 seed: int = 0, *, tokenizer: Any, max_length: int, group: int,
                 no_duplicates: bool) -> None:
        super().__init__(dataset, batch_size=batch_size, drop_last=drop_last,
                         valid_label_columns=valid_label_columns, generator=generator, seed=seed)
        self.group = group
        self.lengths = row_lengths(dataset, tokenizer, max_length, valid_label_columns)
        self.values: list[frozenset[str]] | None = None
        if no_duplicates:
            cols = [[str(v) for v in dataset[c]] for c in text_columns(dataset, valid_label_columns)]
            self.values = [frozenset(row) for row in zip(*cols, strict=True)]
        self._cache: tuple[int, list[list[int]]] | None = None

    def _epoch_batches(self) -> list[list[int]]:
        if self._cache is None or self._cache[0] != self.epoch:
            rng = np.random.default_rng([self.seed, self.epoch])
            self._cache = (self.epoch, grouped_batches(
                self.lengths, self.batch_size, self.group, rng, self.values, self.drop_last))
        return self._cache[1]

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._epoch_batches()

    def __len__(self) -> int:
        return len(self._epoch_batches())


class LengthGrouped:
    """What the trainer gets as ``batch_sampler``: it calls this with the dataset, batch size...

    The trainer pickles its arguments with each checkpoint; the tokenizer is left out of
    that copy (nothing reads a sampler back from a checkpoint).
    """

    def __init__(self, tokenizer: Any, max_length: int, group: int, no_duplicates: bool) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.group = group
        self.no_duplicates = no_duplicates

    def __call__(self, dataset: Any, **kwargs: Any) -> LengthGroupedBatchSampler:
        return LengthGroupedBatchSampler(dataset, **kwargs, tokenizer=self.tokenizer,
                                         max_length=self.max_length, group=self.group,
                                         no_duplicates=self.no_duplicates)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "tokenizer": None}

    def __repr__(self) -> str:
        return (f"LengthGrouped(max_length={self.max_length}, group={self.group}, "
                f"no_duplicates={self.no_duplicates})")
