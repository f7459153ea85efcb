"""The request path of one model version: cache lookups for every key, the model for misses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from mlapi.cache import TieredCache
from mlapi.serving.batcher import Batcher, OnBatch
from mlapi.settings import Settings
from mlapi.workers.runner import Runner

HIT, MISS, PARTIAL = "Hit", "Miss", "Partial"
INLINE_TEXTS = 64  # tokenized on the event loop up to this many misses, else in a thread
Tokenize = Callable[[list[str]], list[list[int]] | None]


class Predictor:
    def __init__(
        self,
        runner: Runner,
        cache: TieredCache,
        settings: Settings,
        *,
        model: str = "default",
        max_queue: int | None = None,
        on_batch: OnBatch | None = None,
        tokenize: Tokenize | None = None,
        packed: bool = False,
    ) -> None:
        self.cache = cache
        self._tokenize = tokenize
        self.batcher: Batcher[bytes] = Batcher(
            runner,
            concurrency=runner.count,
            max_batch_size=settings.max_batch_size,
            max_wait_ms=settings.max_wait_ms,
            max_queue=max_queue or settings.max_queue,
            max_batch_tokens=settings.max_batch_tokens,
            packed=packed,
            retry_after_s=settings.retry_after_s,
            model=model,
            on_batch=on_batch,
        )

    async def predict(self, keys: Sequence[str]) -> tuple[list[bytes], str]:
        """One encoded result per key, and the cache outcome."""
        found = await self.cache.get_many(keys)
        misses = list(dict.fromkeys(k for k, v in zip(keys, found, strict=True) if v is None))
        if not misses:
            return [v for v in found if v is not None], HIT
        tokens = None
        if self._tokenize is not None:
            if len(misses) <= INLINE_TEXTS:
                tokens = self._tokenize(misses)
            else:
                tokens = await asyncio.to_thread(self._tokenize, misses)
        computed = await self.batcher.submit(misses, tokens)
        fresh = list(zip(misses, computed, strict=True))
        await self.cache.set_many(fresh)
        by_key = dict(fresh)
        rows = [v if v is not None else by_key[k] for k, v in zip(keys, found, strict=True)]
        return rows, MISS if len(misses) == len(set(keys)) else PARTIAL
