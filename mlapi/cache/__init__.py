"""Per-input result cache in two tiers: in-process LRU, then Redis when configured."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mlapi.cache.base import Cache
from mlapi.cache.memory import MemoryCache
from mlapi.cache.redis import RedisCache
from mlapi.observability import metrics
from mlapi.settings import Settings
from mlapi.shared.signing import signer_for

__all__ = ["Cache", "MemoryCache", "RedisCache", "TieredCache", "build_cache"]


class TieredCache:
    """Looks tiers up in order; a hit in a later tier is copied into the earlier ones."""

    def __init__(self, tiers: Sequence[Cache], model: str = "default") -> None:
        self.tiers = list(tiers)
        # Per tier: Prometheus children (exported from the start, at zero) and plain counts
        # for /stats, which are this version's alone.
        self._hit_series = {
            t.tier: metrics.CACHE_HITS.labels(model=model, tier=t.tier) for t in tiers
        }
        self._miss_series = {
            t.tier: metrics.CACHE_MISSES.labels(model=model, tier=t.tier) for t in tiers
        }
        self.hits = dict.fromkeys(self._hit_series, 0)
        self.misses = dict.fromkeys(self._hit_series, 0)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        found: list[bytes | None] = [None] * len(keys)
        missing = list(range(len(keys)))
        for depth, tier in enumerate(self.tiers):
            if not missing:
                break
            values = await tier.get_many([keys[i] for i in missing])
            still: list[int] = []
            fill: list[tuple[str, bytes]] = []
            for index, value in zip(missing, values, strict=True):
                if value is None:
                    still.append(index)
                else:
                    found[index] = value
                    fill.append((keys[index], value))
            hits = len(missing) - len(still)
            if hits:
                self._hit_series[tier.tier].inc(hits)
                self.hits[tier.tier] += hits
                for upper in self.tiers[:depth]:
                    await upper.set_many(fill)
            if still:
                self._miss_series[tier.tier].inc(len(still))
                self.misses[tier.tier] += len(still)
            missing = still
        return found

    async def set_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        for tier in self.tiers:
            await tier.set_many(items)

    async def close(self) -> None:
        for tier in self.tiers:
            await tier.close()


def build_cache(
    settings: Settings,
    fingerprint: str,
    model: str = "default",
    valid: Callable[[bytes], bool] = bool,
) -> TieredCache:
    """`valid` checks each value read back from Redis (a kind's `Servable.valid`); with a
    signing key, values carry a MAC bound to their Redis key (`mlapi.cache.redis`)."""
    tiers: list[Cache] = []
    if settings.cache_size > 0:
        tiers.append(MemoryCache(settings.cache_size))
    if settings.redis_url:
        secret = settings.redis_password
        tiers.append(
            RedisCache(
                settings.redis_url,
                fingerprint=fingerprint,
                ttl_s=settings.redis_ttl_s,
                timeout_ms=settings.redis_timeout_ms,
                retry_s=settings.redis_retry_s,
                password=secret.get_secret_value() if secret else None,
                valid=valid,
                signer=signer_for(settings),
            )
        )
    return TieredCache(tiers, model)
