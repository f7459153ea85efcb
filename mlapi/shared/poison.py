"""The poison list in Redis: one set per model fingerprint (`mlapi:poison:<fingerprint>`).

Each member is an input's digest signed under the set's key: a member written without
`MLAPI_REDIS_SIGNING_KEY` matches nothing, so Redis alone refuses no input.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlapi.shared.stores import SignedRedis


class RedisPoisonSet:
    def __init__(self, redis: SignedRedis, fingerprint: str) -> None:
        self._key = f"mlapi:poison:{fingerprint}"
        self._signer = redis.signer
        self._client = redis.open(redis.timeout_s)

    async def contains(self, digests: Sequence[str]) -> list[bool]:
        """Whether each digest is in the set (one round trip)."""
        flags = await self._client.smismember(self._key, [self._member(d) for d in digests])
        return [bool(flag) for flag in flags]

    async def add(self, digest: str) -> None:
        await self._client.sadd(self._key, self._member(digest))

    def _member(self, digest: str) -> bytes:
        return self._signer.seal(self._key, digest.encode())

    async def close(self) -> None:
        await self._client.aclose()
