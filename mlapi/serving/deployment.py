"""One loaded version of a model: its servable, runner, cache namespace, batcher and figures.

`build` loads and warms a version (in worker processes, or in this process); the registry
(`mlapi.serving.registry`) decides which version of a name serves.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

from mlapi.cache import RedisCache, build_cache
from mlapi.kinds import ModelKind, ModelSpec, Servable
from mlapi.serving.predictor import Predictor
from mlapi.serving.stats import ModelStats
from mlapi.settings import Settings
from mlapi.workers.local import InProcess
from mlapi.workers.pool import WorkerPool
from mlapi.workers.runner import Runner


async def build(spec: ModelSpec, kind: ModelKind, settings: Settings) -> Deployment:
    """Load and warm one version: in worker processes (`workers` > 0) or in this process."""
    if settings.workers == 0:
        servable = await asyncio.to_thread(kind.load, spec, settings)
        return Deployment(spec, kind, servable, settings, InProcess(servable))
    pool = WorkerPool(spec, kind, settings)
    servable = await pool.start()
    return Deployment(spec, kind, servable, settings, pool)


class Deployment:
    """One loaded version: its servable, runner, cache namespace, batcher and figures.

    With worker processes, `servable` is the copy without runtime that parsing and formatting
    use; the model itself runs in the runner's workers."""

    def __init__(
        self,
        spec: ModelSpec,
        kind: ModelKind,
        servable: Servable,
        settings: Settings,
        runner: Runner,
    ):
        self.spec = spec
        self.kind = kind
        self.servable = servable
        self.settings = settings
        self.runner = runner
        self.stats = ModelStats()
        caching = settings.cache_results
        if caching is None:
            caching = kind.caches_by_default
        tiers = (
            settings
            if caching
            else settings.model_copy(update={"cache_size": 0, "redis_url": None})
        )
        self.cache = build_cache(tiers, servable.fingerprint, spec.name, servable.valid)
        self.predictor = Predictor(
            runner,
            self.cache,
            settings,
            model=spec.name,
            max_queue=max(settings.max_queue, kind.max_items(settings)),  # a request fits
            on_batch=self.stats.batch,
            tokenize=servable.tokenize,
            packed=servable.packed,
        )
        self.loaded_at = time.time()
        self.inflight = 0
        # A canary version answering a stable share of distinct texts (set by the fleet).
        self.canary: Deployment | None = None
        self.canary_percent = 0.0

    @property
    def version(self) -> str:
        return self.spec.version

    def use(self) -> Deployment:
        """`with deployment.use():` is held by every request: a version is drained only once
        nobody holds it. A plain context manager: no generator or coroutine per request."""
        return self

    def __enter__(self) -> Deployment:
        self.inflight += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self.inflight -= 1

    def routes_to_canary(self, key: str) -> bool:
        """A stable hash of the text: the same text always goes to the same version."""
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return int.from_bytes(digest, "big") % 10_000 < self.canary_percent * 100

    def versions_for(self, keys: list[str]) -> str:
        """The version(s) that answer `keys`: `X-MLAPI-Model-Version`."""
        canary = self.canary
        if canary is None:
            return self.version
        found = {canary.version if self.routes_to_canary(k) else self.version for k in keys}
        return ",".join(sorted(found)) or self.version

    async def predict(self, keys: list[str]) -> tuple[list[bytes], str]:
        canary = self.canary
        if canary is None:
            return await self._predict(keys)
        to_canary = [self.routes_to_canary(k) for k in keys]
        ours = [k for k, c in zip(keys, to_canary, strict=True) if not c]
        theirs = [k for k, c in zip(keys, to_canary, strict=True) if c]
        with canary.use():
            (mine, outcome_a), (other, outcome_b) = await asyncio.gather(
                self._predict(ours), canary._predict(theirs)
            )
        mine_it, other_it = iter(mine), iter(other)
        rows = [next(other_it) if c else next(mine_it) for c in to_canary]
        outcomes = {o for o, part in ((outcome_a, ours), (outcome_b, theirs)) if part}
        outcome = outcomes.pop() if len(outcomes) == 1 else "Partial"
        return rows, outcome

    async def _predict(self, keys: list[str]) -> tuple[list[bytes], str]:
        if not keys:
            return [], "Hit"
        started = time.perf_counter()
        ok = False
        try:
            rows, outcome = await self.predictor.predict(keys)
            ok = True
            return rows, outcome
        finally:
            self.stats.request(len(keys), time.perf_counter() - started, ok)

    async def close(self, grace_s: float) -> None:
        deadline = time.monotonic() + grace_s
        while self.inflight and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        await self.predictor.batcher.close(max(0.0, deadline - time.monotonic()))
        await self.cache.close()
        await self.runner.close()

    def card(self) -> dict[str, Any]:
        return {
            **self.servable.card(),
            "model": self.spec.name,
            "kind": self.kind.name,
            "version": self.version,
            "path": str(self.spec.path),
            "loaded_at": self.loaded_at,
        }

    def stats_dict(self) -> dict[str, Any]:
        redis = next((t for t in self.cache.tiers if isinstance(t, RedisCache)), None)
        cache = {
            tier: {
                "hits": self.cache.hits[tier],
                "misses": self.cache.misses[tier],
                "hit_ratio": _ratio(self.cache.hits[tier], self.cache.misses[tier]),
            }
            for tier in self.cache.hits
        }
        return {
            "version": self.version,
            "fingerprint": self.servable.fingerprint,
            "kind": self.kind.name,
            "loaded_at": self.loaded_at,
            "queue_depth": self.predictor.batcher.pending,
            "inflight": self.inflight,
            **self.stats.as_dict(),
            "cache": cache,
            "redis": None if redis is None else ("up" if redis.available else "paused"),
            "workers": self.runner.describe(),
            "canary": None
            if self.canary is None
            else {"percent": self.canary_percent, **self.canary.stats_dict()},
        }


def _ratio(hits: int, misses: int) -> float | None:
    return round(hits / (hits + misses), 4) if hits + misses else None
