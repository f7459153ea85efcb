"""The in-process LRU and the tier composition."""

from __future__ import annotations

import asyncio

from mlapi.cache import MemoryCache, TieredCache


def test_lru_evicts_least_recently_used() -> None:
    async def scenario() -> list[bytes | None]:
        cache = MemoryCache(2)
        await cache.set_many([("a", b"1"), ("b", b"2")])
        await cache.get_many(["a"])  # a is now the most recent
        await cache.set_many([("c", b"3")])
        return await cache.get_many(["a", "b", "c"])

    assert asyncio.run(scenario()) == [b"1", None, b"3"]


def test_lower_tier_hits_fill_upper_tiers() -> None:
    async def scenario() -> tuple[list[bytes | None], list[bytes | None]]:
        upper, lower = MemoryCache(10), MemoryCache(10)
        await lower.set_many([("x", b"X")])
        tiered = TieredCache([upper, lower])
        found = await tiered.get_many(["x", "y"])
        return found, await upper.get_many(["x"])

    found, upper = asyncio.run(scenario())
    assert found == [b"X", None]
    assert upper == [b"X"]


def test_zero_size_stores_nothing() -> None:
    async def scenario() -> list[bytes | None]:
        cache = MemoryCache(0)
        await cache.set_many([("a", b"1")])
        return await cache.get_many(["a"])

    assert asyncio.run(scenario()) == [None]
