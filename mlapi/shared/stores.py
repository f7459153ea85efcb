"""Redis with a signing key, else this process: the one choice behind every signed store.

What replicas share (the desired state, training jobs, the poison list) is kept in Redis only
when both `MLAPI_REDIS_URL` and `MLAPI_REDIS_SIGNING_KEY` are set: without the key nothing read
back could be trusted (`mlapi.shared.signing`). Otherwise each store has a counterpart that
lives in this process alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import redis.asyncio as aioredis
from pydantic import SecretStr

from mlapi.settings import Settings
from mlapi.shared.redis import open_async
from mlapi.shared.signing import Signer, signer_for

Shared = TypeVar("Shared")
Local = TypeVar("Local")


@dataclass(frozen=True, slots=True)
class SignedRedis:
    """Where a signed store keeps its records: the Redis URL and password, the signer of its
    records, and the service's Redis timeout (`MLAPI_REDIS_TIMEOUT_MS`)."""

    url: str
    signer: Signer
    password: SecretStr | None
    timeout_s: float

    def open(self, timeout_s: float) -> aioredis.Redis:
        """A client for one store, which closes it."""
        return open_async(self.url, password=self.password, timeout_s=timeout_s)


def shared_or_local(
    settings: Settings, shared: Callable[[SignedRedis], Shared], local: Callable[[], Local]
) -> Shared | Local:
    """`shared(redis)` when Redis and a signing key are set; else `local()`."""
    signer = signer_for(settings)
    if not settings.redis_url or signer is None:
        return local()
    redis = SignedRedis(
        settings.redis_url,
        signer,
        password=settings.redis_password,
        timeout_s=settings.redis_timeout_ms / 1000,
    )
    return shared(redis)
