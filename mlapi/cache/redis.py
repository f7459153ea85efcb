"""Redis tier: one pipelined round trip per request, short timeouts, and a pause after errors.

Any Redis failure is a miss (reads) or a skipped write: the service keeps answering from the
model. After an error Redis is left alone for `retry_s`, then the client reconnects by itself.

With a signer (a signing key is set) every value is stored with a MAC bound to its Redis key
(`Signer.tag_value`): a value that lacks a valid one is a miss, counted, and computed again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence

from redis.exceptions import RedisError

from mlapi.observability import metrics
from mlapi.shared.redis import open_async
from mlapi.shared.signing import Signer

logger = logging.getLogger("mlapi.cache.redis")


class RedisCache:
    tier = "redis"

    def __init__(
        self,
        url: str,
        *,
        fingerprint: str,
        ttl_s: int,
        timeout_ms: float,
        retry_s: float,
        password: str | None = None,
        valid: Callable[[bytes], bool] = bool,
        signer: Signer | None = None,
    ) -> None:
        timeout = timeout_ms / 1000
        self._client = open_async(
            url,
            password=password,
            timeout_s=timeout,
            retry_on_timeout=False,
            health_check_interval=0,
        )
        self._prefix = f"mlapi:{fingerprint}:"
        self._valid = valid
        self._signer = signer
        self._rejected = metrics.REDIS_REJECTED.labels(what="cached value")
        self._ttl = ttl_s
        self._retry_s = retry_s
        self._down_until = 0.0
        for op in ("get", "set"):  # export the error series from the start, at zero
            metrics.REDIS_ERRORS.labels(op=op)

    def redis_key(self, key: str) -> str:
        """The Redis key of a model's key: a digest under this version's prefix."""
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16)
        return self._prefix + digest.hexdigest()

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, op: str, exc: BaseException) -> None:
        metrics.REDIS_ERRORS.labels(op=op).inc()
        if self.available:
            logger.warning(
                "redis %s failed (%s: %s); pausing it for %.1fs",
                op,
                type(exc).__name__,
                exc,
                self._retry_s,
            )
        self._down_until = time.monotonic() + self._retry_s

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys or not self.available:
            return [None] * len(keys)
        redis_keys = [self.redis_key(k) for k in keys]
        try:
            values = await self._client.mget(redis_keys)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed("get", exc)
            return [None] * len(keys)
        return [self._checked(k, v) for k, v in zip(redis_keys, values, strict=True)]

    def _checked(self, redis_key: str, value: bytes | str | None) -> bytes | None:
        """A value this service stored under `redis_key` (when signing) and the model could
        have made, or a miss (Redis holds data, not answers)."""
        if value is None:
            return None
        raw: bytes | None = value.encode() if isinstance(value, str) else value
        if self._signer is not None and raw is not None:
            raw = self._signer.open_value(redis_key.encode(), raw)
        if raw is not None and self._valid(raw):
            return raw
        self._rejected.inc()
        return None

    async def set_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        if not items or not self.available:
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for key, value in items:
                    redis_key = self.redis_key(key)
                    if self._signer is not None:
                        value = self._signer.tag_value(redis_key.encode(), value)
                    pipe.set(redis_key, value, ex=self._ttl)
                await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed("set", exc)

    async def close(self) -> None:
        await self._client.aclose()
