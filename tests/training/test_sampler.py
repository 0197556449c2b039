"""Length-grouped batches: every row once per epoch, less padding, no text twice in a batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ticketsim.training.sampler import grouped_batches


def _padded(lengths: np.ndarray, batches: list[list[int]]) -> int:
    return sum(len(b) * int(lengths[b].max()) for b in batches)


@pytest.mark.parametrize("n", [1, 31, 32, 200, 517])
def test_every_row_once_and_batches_full_but_the_last(n: int) -> None:
    lengths = np.random.default_rng(0).integers(5, 128, n)
    batches = grouped_batches(lengths, 32, 4, np.random.default_rng(1))
    assert sorted(i for b in batches for i in b) == list(range(n))
    assert sorted(len(b) for b in batches)[1:] == [32] * (len(batches) - 1)
    assert len(batches) == -(-n // 32)


def test_grouping_pads_less_than_random_batches_and_more_with_smaller_windows() -> None:
    lengths = np.random.default_rng(0).integers(5, 128, 2048)
    perm = np.random.default_rng(1).permutation(2048)
    plain = [perm[i:i + 32].tolist() for i in range(0, 2048, 32)]
    small = grouped_batches(lengths, 32, 2, np.random.default_rng(1))
    large = grouped_batches(lengths, 32, 16, np.random.default_rng(1))
    assert _padded(lengths, large) < _padded(lengths, small) < 0.8 * _padded(lengths, plain)
    assert _padded(lengths, large) < 1.1 * int(lengths.sum())


def test_no_text_twice_in_a_batch() -> None:
    rng = np.random.default_rng(0)
    n = 300
    texts = [f"t{rng.integers(0, 40)}" for _ in range(n)]  # many repeats
    values = [frozenset({texts[i], f"p{i}"}) for i in range(n)]
    lengths = rng.integers(5, 128, n)
    batches = grouped_batches(lengths, 16, 4, np.random.default_rng(2), values)
    assert sorted(i for b in batches for i in b) == list(range(n))
    for b in batches:
        seen = [t for i in b for t in values[i]]
        assert len(seen) == len(set(seen))
    # without the check, the same data puts a text twice in some batch
    plain = grouped_batches(lengths, 16, 4, np.random.default_rng(2))
    assert any(len({texts[i] for i in b}) < len(b) for b in plain)


def test_deterministic_per_seed_and_drop_last() -> None:
    lengths = np.arange(100)
    one = grouped_batches(lengths, 8, 4, np.random.default_rng([7, 0]))
    assert one == grouped_batches(lengths, 8, 4, np.random.default_rng([7, 0]))
    assert one != grouped_batches(lengths, 8, 4, np.random.default_rng([7, 1]))
    dropped = grouped_batches(lengths, 8, 4, np.random.default_rng([7, 0]), drop_last=True)
    assert len(dropped) == 12 and all(len(b) == 8 for b in dropped)


def test_the_trainers_sampler_groups_real_rows_by_token_length(tiny_model_dir: Path) -> None:
    from datasets import Dataset
    from transformers import AutoTokenizer

    from ticketsim.training.sampler import LengthGrouped

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    rng = np.random.default_rng(0)
    words = ["vpn", "printer", "outlook", "password", "laptop", "token", "reset", "driver"]
    anchors = [" ".join(rng.choice(words, int(rng.integers(1, 30)))) + f" a{i}" for i in range(96)]
    positives = [" ".join(rng.choice(words, int(rng.integers(1, 30)))) + f" p{i}" for i in range(96)]
    ds = Dataset.from_dict({"anchor": anchors, "positive": positives})
    sampler = LengthGrouped(tok, 16, 4, no_duplicates=True)(ds, batch_size=8, drop_last=False,
                                                           seed=3)
    want = [min(len(tok(a)["input_ids"]), 16) + min(len(tok(p)["input_ids"]), 16)
            for a, p in zip(anchors, positives, strict=True)]
    assert sampler.lengths.tolist() == want  # token lengths, each column cut at max_length
    epoch0 = list(sampler)
    assert len(epoch0) == len(sampler) == 12
    assert sorted(i for b in epoch0 for i in b) == list(range(96))
    sampler.set_epoch(1)
    assert list(sampler) != epoch0  # reshuffled per epoch
