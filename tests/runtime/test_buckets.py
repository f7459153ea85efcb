"""Length buckets cover every index once, sorted, with bounded padding."""

from __future__ import annotations

import numpy as np

from mlapi.runtime.base import length_buckets, softmax


def test_buckets_partition_sorted() -> None:
    lengths = [5, 100, 7, 6, 98, 3, 50, 51, 52, 4]
    buckets = length_buckets(lengths, max_size=4)
    flat = [i for bucket in buckets for i in bucket]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths)
    assert all(len(b) <= 4 for b in buckets)
    for bucket in buckets:  # short texts never pad up to the long ones
        widths = [lengths[i] for i in bucket]
        assert max(widths) * len(widths) <= 1.25 * sum(widths) + 8


def test_single_and_empty() -> None:
    assert length_buckets([], 8) == []
    assert length_buckets([9], 8) == [[0]]


def test_softmax_rows_sum_to_one() -> None:
    probs = softmax(np.array([[1.0, 2.0], [1000.0, -1000.0]], dtype=np.float32))
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert probs[1, 0] == 1.0
