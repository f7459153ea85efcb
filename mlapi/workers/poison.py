"""Inputs that kill a model's worker, remembered by hash: here, and in Redis when configured
with a signing key (`mlapi.shared.poison`), so every replica sharing that Redis refuses such an
input at once instead of crashing on it too.

Redis errors never fail a request: the local list still holds what this process found.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

from redis.exceptions import RedisError

from mlapi.settings import Settings
from mlapi.shared.poison import RedisPoisonSet
from mlapi.shared.stores import shared_or_local

logger = logging.getLogger("mlapi.workers")


def digest(key: str) -> str:
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class PoisonList:
    def __init__(self, fingerprint: str, settings: Settings) -> None:
        self._local: set[str] = set()
        self._shared: RedisPoisonSet | None = shared_or_local(
            settings, lambda redis: RedisPoisonSet(redis, fingerprint), lambda: None
        )

    async def find(self, keys: Sequence[str]) -> set[str]:
        """The keys known to kill the model (one Redis round trip when Redis is configured)."""
        digests = [digest(k) for k in keys]
        found = {k for k, d in zip(keys, digests, strict=True) if d in self._local}
        if self._shared is None or not keys:
            return found
        try:
            flags = await self._shared.contains(digests)
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("poison list: redis read failed (%s); local list only", exc)
            return found
        for key, d, flag in zip(keys, digests, flags, strict=True):
            if flag:
                self._local.add(d)
                found.add(key)
        return found

    async def add(self, key: str) -> None:
        d = digest(key)
        self._local.add(d)
        if self._shared is None:
            return
        try:
            await self._shared.add(d)
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("poison list: redis write failed (%s); kept locally", exc)

    async def close(self) -> None:
        if self._shared is not None:
            await self._shared.close()
