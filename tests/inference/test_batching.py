"""Length-sorted batching: every text once, little padding, results in input order."""

from __future__ import annotations

import numpy as np

from ticketsim.inference.batching import (
    Tokenized,
    length_sorted_batches,
    pad_batch,
    physical_cores,
)


def test_batches_cover_every_index_longest_first() -> None:
    lengths = np.array([3, 9, 1, 9, 5, 2, 7])
    batches = list(length_sorted_batches(lengths, 3))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(7))
    assert [b.tolist() for b in batches] == [[1, 3, 6], [4, 0, 5], [2]]


def test_sorting_pads_less_than_input_order() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 256, 1000)
    def padded(batches: list[np.ndarray]) -> int:
        return int(sum(lengths[b].max() * len(b) for b in batches))
    plain = [np.arange(s, min(s + 32, 1000)) for s in range(0, 1000, 32)]
    assert padded(list(length_sorted_batches(lengths, 32))) < 0.6 * padded(plain)


def test_pad_batch_builds_masks_and_type_ids() -> None:
    tok = Tokenized(ids=[[101, 7, 102], [101, 102]], type_ids=[[0, 0, 0], [0, 1]],
                    lengths=np.array([3, 2]))
    out = pad_batch(tok, np.array([1, 0]), pad_id=0,
                    names=["input_ids", "attention_mask", "token_type_ids"])
    assert out["input_ids"].tolist() == [[101, 102, 0], [101, 7, 102]]
    assert out["attention_mask"].tolist() == [[1, 1, 0], [1, 1, 1]]
    assert out["token_type_ids"].tolist() == [[0, 1, 0], [0, 0, 0]]
    assert out["input_ids"].dtype == np.int64


def test_physical_cores_is_positive() -> None:
    assert physical_cores() >= 1
