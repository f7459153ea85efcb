"""The poison list in Redis: one set per model fingerprint (`mlapi:poison:<fingerprint>`).

Each member is an input's digest signed under the set's key: a member written without
`MLAPI_REDIS_SIGNING_KEY` matches nothing, so Redis alone refuses no input. A member is bound to
its model's fingerprint (the set's key): copied or replayed into another model's set it matches
nothing there, and replayed into its own it refuses only the text that crashed that very model.
A key of another type is skipped, counted in `mlapi_redis_records_unreadable_total`.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.exceptions import ResponseError

from mlapi.observability import metrics
from mlapi.shared.stores import SignedRedis


class RedisPoisonSet:
    def __init__(self, redis: SignedRedis, fingerprint: str) -> None:
        self._key = f"mlapi:poison:{fingerprint}"
        self._signer = redis.signer
        self._client = redis.open(redis.timeout_s)

    async def contains(self, digests: Sequence[str]) -> list[bool]:
        """Whether each digest is in the set (one round trip)."""
        try:
            flags = await self._client.smismember(self._key, [self._member(d) for d in digests])
        except ResponseError as exc:
            if "WRONGTYPE" not in str(exc):
                raise
            metrics.REDIS_UNREADABLE.labels(what="poison list").inc()
            return [False] * len(digests)
        return [bool(flag) for flag in flags]

    async def add(self, digest: str) -> None:
        await self._client.sadd(self._key, self._member(digest))

    def _member(self, digest: str) -> bytes:
        return self._signer.seal(self._key, digest.encode())

    async def close(self) -> None:
        await self._client.aclose()
