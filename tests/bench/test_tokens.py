"""Token counts as the served model makes them, and the padding of a replayed batch stream."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.tokens import replay, served_max_length, token_lengths
from mlapi.tools.synthetic import tiny_distilbert


def test_replay_counts_the_padding_of_each_bucket() -> None:
    # one batch of four: lengths 2 and 3 share a bucket (padded to 3), 40 and 40 another
    passes = replay([2, 40, 3, 40], batch=4, max_batch_size=64)
    assert passes.real_tokens == 85
    assert passes.padded_tokens == 2 * 3 + 2 * 40
    assert passes.forwards == 2
    assert passes.padding_fraction == pytest.approx(1 - 85 / 86)
    assert passes.tokens_per_forward == 43


def test_replay_cuts_batches_in_arrival_order() -> None:
    # batch 1: every sentence alone, no padding at all
    assert replay([5, 9, 2], batch=1, max_batch_size=64).padding_fraction == 0
    # batch 2: (5, 9) padded to 9 in one forward pass (within the bucket slack), then (2)
    passes = replay([5, 9, 2], batch=2, max_batch_size=64)
    assert (passes.padded_tokens, passes.forwards) == (20, 2)


def test_tokens_are_the_served_tokenizers_truncated_at_max_length(tmp_path: Path) -> None:
    model = tiny_distilbert(tmp_path / "tiny")
    assert served_max_length(model, None) == 128  # the tiny config's positions
    assert served_max_length(model, 8) == 8
    short, long = token_lengths(model, ["good", " ".join(["good"] * 50)], max_length=8)
    assert short == 3  # [CLS] good [SEP]: special tokens count, padding does not
    assert long == 8
