"""Answers of two variants, backends or loads compared within the variants' stated bounds.

Two backends agree to float rounding, not bit for bit, and which bits differ depends on the
CPU's kernels: fp32 against fp32 is held to `EXACT_BOUND`, anything else to the fidelity
bounds that every served variant must meet. Never compare such answers with `==`
(`tests/test_hygiene.py` fails on it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlapi.runtime.calibration import MAX_P99_DIFF, MIN_AGREEMENT
from mlapi.runtime.variants import VARIANTS

EXACT_BOUND = 1e-5  # fp32 against fp32 (the pipeline, ONNX fp32, torch fp32)

Scores = Sequence[Sequence[float]] | np.ndarray


def is_exact(variant: str) -> bool:
    return VARIANTS[variant].exact


def assert_agree(a: Scores, b: Scores, variants: tuple[str, str]) -> None:
    """`a` and `b` are score rows (one per text) from the two named variants."""
    left, right = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert left.shape == right.shape, (left.shape, right.shape)
    diff = np.abs(left - right)
    if all(is_exact(v) for v in variants):
        assert diff.max(initial=0.0) <= EXACT_BOUND, (variants, diff.max())
        return
    assert np.quantile(diff, 0.99) <= MAX_P99_DIFF, (variants, diff.max())
    if left.ndim == 2 and len(left):
        agreement = (left.argmax(axis=1) == right.argmax(axis=1)).mean()
        assert agreement >= MIN_AGREEMENT, (variants, agreement)


def assert_differ(a: Scores, b: Scores, at_least: float = 1e-3) -> None:
    """Answers of two different models: apart by more than any variant's rounding."""
    diff = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
    assert diff.max() > at_least, diff.max()
