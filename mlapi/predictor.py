"""The request path: cache lookups for every text, the model only for the misses."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import orjson

from mlapi.batcher import Batcher
from mlapi.cache import TieredCache
from mlapi.runtime import Classifier, Probs
from mlapi.settings import Settings

HIT, MISS, PARTIAL = "Hit", "Miss", "Partial"


def encode_rows(labels: Sequence[str], probs: Probs) -> list[bytes]:
    """One JSON fragment per text: `[{"label": .., "score": ..}, ...]` in label-id order."""
    rows: list[list[float]] = np.asarray(probs, dtype=np.float32).tolist()
    return [
        orjson.dumps(
            [{"label": label, "score": score} for label, score in zip(labels, row, strict=True)]
        )
        for row in rows
    ]


class Predictor:
    def __init__(self, classifier: Classifier, cache: TieredCache, settings: Settings) -> None:
        labels = classifier.info.labels
        self.classifier = classifier
        self.cache = cache
        self.batcher: Batcher[bytes] = Batcher(
            lambda texts: encode_rows(labels, classifier.predict(texts)),
            max_batch_size=settings.max_batch_size,
            max_wait_ms=settings.max_wait_ms,
            max_queue=settings.max_queue,
            retry_after_s=settings.retry_after_s,
        )

    async def predict(self, texts: Sequence[str]) -> tuple[bytes, str]:
        """The response body `{"predictions": [...]}` and the cache outcome."""
        found = await self.cache.get_many(texts)
        misses = list(dict.fromkeys(t for t, v in zip(texts, found, strict=True) if v is None))
        if not misses:
            outcome = HIT
        else:
            computed = await self.batcher.submit(misses)
            fresh = list(zip(misses, computed, strict=True))
            await self.cache.set_many(fresh)
            by_text = dict(fresh)
            found = [v if v is not None else by_text[t] for t, v in zip(texts, found, strict=True)]
            outcome = MISS if len(misses) == len(set(texts)) else PARTIAL
        body = b'{"predictions":[' + b",".join(v for v in found if v is not None) + b"]}"
        return body, outcome
