"""Opening Redis: the service's URL and password, and a timeout on every socket call, so a
Redis that stops answering costs a caller at most that long (then the caller's own fallback
applies: a cache miss, the local list, the last known state)."""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis
from pydantic import SecretStr


def _plain(password: SecretStr | str | None) -> str | None:
    return password.get_secret_value() if isinstance(password, SecretStr) else password


def open_async(
    url: str, *, password: SecretStr | str | None, timeout_s: float, **options: Any
) -> aioredis.Redis:
    """An asyncio client; `options` are redis-py's (`retry_on_timeout`, ...)."""
    return aioredis.Redis.from_url(
        url,
        password=_plain(password),
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        **options,
    )


def open_sync(url: str, *, password: SecretStr | str | None, timeout_s: float) -> redis.Redis:
    """A blocking client, for the checks made before the event loop runs."""
    return redis.Redis.from_url(
        url, password=_plain(password), socket_timeout=timeout_s, socket_connect_timeout=timeout_s
    )
