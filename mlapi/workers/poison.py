"""Texts that kill a model's worker, remembered by hash: here, and in Redis when configured
with a signing key, so every replica sharing that Redis refuses such a text at once instead of
crashing on it too. Each Redis member is the text's hash signed under the list's key: a member
written without `MLAPI_REDIS_SIGNING_KEY` matches nothing, so Redis alone refuses no text.

Redis errors never fail a request: the local list still holds what this process found.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mlapi.settings import Settings
from mlapi.shared.redis import open_async
from mlapi.shared.signing import signer_for

logger = logging.getLogger("mlapi.workers")


def digest(key: str) -> str:
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class PoisonList:
    def __init__(self, fingerprint: str, settings: Settings) -> None:
        self._local: set[str] = set()
        self._key = f"mlapi:poison:{fingerprint}"
        self._redis: aioredis.Redis | None = None
        self._signer = signer_for(settings)
        if settings.redis_url and self._signer is not None:
            self._redis = open_async(
                settings.redis_url,
                password=settings.redis_password,
                timeout_s=settings.redis_timeout_ms / 1000,
            )

    async def find(self, keys: Sequence[str]) -> set[str]:
        """The keys known to kill the model (one Redis round trip when Redis is configured)."""
        digests = [digest(k) for k in keys]
        found = {k for k, d in zip(keys, digests, strict=True) if d in self._local}
        if self._redis is None or self._signer is None or not keys:
            return found
        members = [self._member(d) for d in digests]
        try:
            flags = await self._redis.smismember(self._key, members)
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
        if self._redis is None:
            return
        try:
            await self._redis.sadd(self._key, self._member(d))
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("poison list: redis write failed (%s); kept locally", exc)

    def _member(self, text_digest: str) -> bytes:
        assert self._signer is not None
        return self._signer.seal(self._key, text_digest.encode())

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
