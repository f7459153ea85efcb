"""Fake classifiers that implement the real `Classifier` interface (tokenizer included)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from mlapi.runtime import ClassifierLoader
from mlapi.runtime.base import Classifier, IntArray, ModelInfo, Probs
from mlapi.settings import Settings

POISON = "__poison__"


class FakeClassifier(Classifier):
    """Logits from token counts; sleeps `delay_s` per batch; fails batches holding POISON."""

    def __init__(self, model_dir: Path, *, delay_s: float = 0.0, max_batch_size: int = 32) -> None:
        super().__init__(Tokenizer.from_file(str(model_dir / "tokenizer.json")), 64, max_batch_size)
        self.delay_s = delay_s
        self.batches: list[list[list[int]]] = []  # the token ids of every batch run
        self._poison = self.tokenizer.encode(POISON).ids
        self.info = ModelInfo(
            name="fake",
            backend="fake",
            fingerprint="f" * 16,
            labels=("NEGATIVE", "POSITIVE"),
            max_length=64,
        )

    def predict_ids(self, ids: Sequence[Sequence[int]]) -> Probs:
        self.batches.append([list(row) for row in ids])
        if self.delay_s:
            time.sleep(self.delay_s)  # a slow model: the behaviour under test
        if self._poison in self.batches[-1]:
            raise RuntimeError("poisoned batch")
        return super().predict_ids(ids)

    def _forward(self, input_ids: IntArray, attention_mask: IntArray) -> npt.NDArray[np.floating]:
        length = attention_mask.sum(axis=1).astype(np.float32)
        return np.stack([length / 10, -length / 10], axis=1)


def fake_loader(delay_s: float = 0.0) -> tuple[list[FakeClassifier], ClassifierLoader]:
    """A loader for `create_app(loader=...)` and the list of fakes it made."""
    made: list[FakeClassifier] = []

    def load(settings: Settings, model_dir: Path) -> Classifier:
        fake = FakeClassifier(model_dir, delay_s=delay_s, max_batch_size=settings.max_batch_size)
        made.append(fake)
        return fake

    return made, load
