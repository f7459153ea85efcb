"""Accuracy and F1 without extra dependencies."""

from __future__ import annotations

from collections.abc import Sequence


def accuracy(truth: Sequence[int], predicted: Sequence[int]) -> float:
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / max(1, len(truth))


def f1(truth: Sequence[int], predicted: Sequence[int], n_labels: int) -> float:
    """Binary F1 of label 1 for two labels, macro F1 otherwise."""
    classes = [1] if n_labels == 2 else list(range(n_labels))
    scores = []
    for label in classes:
        tp = sum(t == label and p == label for t, p in zip(truth, predicted, strict=True))
        fp = sum(t != label and p == label for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == label and p != label for t, p in zip(truth, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)
