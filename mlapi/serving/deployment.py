"""One loaded version of a model: its servable, executor, cache namespace, batcher and figures.

`build` loads and warms a version (in worker processes, or in this process); the registry
(`mlapi.serving.registry`) decides which version of a name serves, and which answers a
canary's share (`mlapi.serving.canary`). A request's keys go to the cache first, then the
misses to the batcher, once each however often they repeat.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlapi.cache import RedisCache, build_cache
from mlapi.kinds import ModelKind, Servable
from mlapi.serving.batcher import Batcher
from mlapi.serving.stats import ModelStats
from mlapi.serving.status import (
    CacheFigures,
    CanaryFigures,
    ModelCard,
    VersionFigures,
    WorkerStatus,
)
from mlapi.serving.version import ModelVersion
from mlapi.settings import Settings
from mlapi.workers.executor import ModelExecutor
from mlapi.workers.local import InProcess
from mlapi.workers.pool import WorkerPool

if TYPE_CHECKING:
    from mlapi.serving.canary import CanarySplit

HIT, MISS, PARTIAL = "Hit", "Miss", "Partial"
# Misses of at most this many characters in all are tokenized on the event loop (about 0.2
# ms; a hop to a thread costs about as much as 100 characters), more in a thread: the loop's
# work per request stays bounded whatever the texts' lengths (`tests/http/test_long_texts.py`).
INLINE_CHARS = 512


async def build(version: ModelVersion, kind: ModelKind, settings: Settings) -> Deployment:
    """Load and warm one version: in worker processes (`workers` > 0) or in this process."""
    if settings.workers == 0:
        servable = await asyncio.to_thread(kind.load, version, settings)
        return Deployment(version, kind, servable, settings, InProcess(servable))
    pool = WorkerPool(version, kind, settings)
    servable = await pool.start()
    return Deployment(version, kind, servable, settings, pool)


class Deployment:
    """One loaded version: its servable, executor, cache namespace, batcher and figures.

    With worker processes, `servable` is the copy without runtime that parsing and formatting
    use; the model itself runs in the executor's workers."""

    def __init__(
        self,
        version: ModelVersion,
        kind: ModelKind,
        servable: Servable,
        settings: Settings,
        executor: ModelExecutor,
    ):
        self.version = version
        self.kind = kind
        self.servable = servable
        self.settings = settings
        self.executor = executor
        self.stats = ModelStats()
        caching = settings.cache_results
        if caching is None:
            caching = kind.caches_by_default
        tiers = (
            settings
            if caching
            else settings.model_copy(update={"cache_size": 0, "redis_url": None})
        )
        self.cache = build_cache(tiers, servable.fingerprint, version.name, servable.valid)
        self.batcher: Batcher[bytes] = Batcher(
            executor,
            concurrency=executor.count,
            max_batch_size=settings.max_batch_size,
            max_wait_ms=settings.max_wait_ms,
            max_queue=max(settings.max_queue, kind.max_items(settings)),  # a request fits
            max_batch_tokens=settings.max_batch_tokens,
            packed=servable.packed,
            retry_after_s=settings.retry_after_s,
            model=version.name,
            on_batch=self.stats.batch,
        )
        self.loaded_at = time.time()
        self.inflight = 0
        # Rows of numbers (a tabular model) are not tokenized: no hop to a thread for them.
        self._tokenizes = type(servable).tokenize is not Servable.tokenize

    def use(self) -> Deployment:
        """`with deployment.use():` is held by every request: a version is drained only once
        nobody holds it. A plain context manager: no generator or coroutine per request."""
        return self

    def __enter__(self) -> Deployment:
        self.inflight += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self.inflight -= 1

    async def predict(self, keys: Sequence[str]) -> tuple[list[bytes], str]:
        """One stored value per key, and the cache outcome (`Hit`, `Miss` or `Partial`)."""
        if not keys:
            return [], HIT
        started = time.perf_counter()
        ok = False
        try:
            rows, outcome = await self._answer(keys)
            ok = True
            return rows, outcome
        finally:
            self.stats.request(len(keys), time.perf_counter() - started, ok)

    async def _answer(self, keys: Sequence[str]) -> tuple[list[bytes], str]:
        """Cache lookups for every key, the model for the distinct misses."""
        found = await self.cache.get_many(keys)
        misses = list(dict.fromkeys(k for k, v in zip(keys, found, strict=True) if v is None))
        if not misses:
            return [v for v in found if v is not None], HIT
        if not self._tokenizes or sum(map(len, misses)) <= INLINE_CHARS:
            tokens = self.servable.tokenize(misses)
        else:
            tokens = await asyncio.to_thread(self.servable.tokenize, misses)
        computed = await self.batcher.submit(misses, tokens)
        fresh = list(zip(misses, computed, strict=True))
        await self.cache.set_many(fresh)
        by_key = dict(fresh)
        rows = [v if v is not None else by_key[k] for k, v in zip(keys, found, strict=True)]
        return rows, MISS if len(misses) == len(set(keys)) else PARTIAL

    async def close(self, grace_s: float) -> None:
        deadline = time.monotonic() + grace_s
        while self.inflight and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        await self.batcher.close(max(0.0, deadline - time.monotonic()))
        await self.cache.close()
        await self.executor.close()

    def card(self) -> ModelCard:
        """What /models, the admin answers and v2 metadata say about this version."""
        return ModelCard.model_validate(
            {  # what a kind's card may leave out (MLAPI_KIND_MODULES)
                "name": self.version.name,
                "backend": self.kind.name,
                "fingerprint": self.servable.fingerprint,
                "labels": [],
                "max_length": 0,
                **self.servable.card(),
                "model": self.version.name,
                "kind": self.kind.name,
                "version": self.version.version,
                "path": str(self.version.path),
                "loaded_at": self.loaded_at,
            }
        )

    def figures(self, canary: CanarySplit | None = None) -> VersionFigures:
        """Live figures for /stats, with those of the canary answering `canary`'s share."""
        stats = self.stats
        redis = next((t for t in self.cache.tiers if isinstance(t, RedisCache)), None)
        return VersionFigures(
            version=self.version.version,
            fingerprint=self.servable.fingerprint,
            kind=self.kind.name,
            loaded_at=self.loaded_at,
            queue_depth=self.batcher.pending,
            inflight=self.inflight,
            requests=stats.requests,
            items=stats.items,
            errors=stats.errors,
            batches=stats.batches,
            mean_batch_size=stats.mean_batch_size(),
            inference_s=round(stats.inference_s, 3),
            tokens=stats.tokens,
            padded_tokens=stats.padded_tokens,
            padding_fraction=stats.padding_fraction(),
            latency_ms=stats.latency_ms(),
            cache={
                tier: CacheFigures(
                    hits=self.cache.hits[tier],
                    misses=self.cache.misses[tier],
                    hit_ratio=_ratio(self.cache.hits[tier], self.cache.misses[tier]),
                )
                for tier in self.cache.hits
            },
            redis=None if redis is None else ("up" if redis.available else "paused"),
            workers=[WorkerStatus.model_validate(w) for w in self.executor.describe()],
            canary=None
            if canary is None
            else CanaryFigures(percent=canary.percent, **dict(canary.deployment.figures())),
        )


def _ratio(hits: int, misses: int) -> float | None:
    return round(hits / (hits + misses), 4) if hits + misses else None
