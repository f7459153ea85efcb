"""Job records in Redis: every replica sees the same jobs; Redis expires finished ones."""

from __future__ import annotations

import math
import time

import redis.asyncio as aioredis

from mlapi.training.schemas import JobRecord
from mlapi.training.store import live

PREFIX = "mlapi:train:"


class RedisJobStore:
    """`job:<id>` holds the record, `cancel:<id>` a cancel request, `jobs` the ids by age."""

    def __init__(self, url: str, *, password: str | None = None, timeout_s: float = 5.0) -> None:
        self._client = aioredis.Redis.from_url(
            url,
            password=password,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
        )

    async def put(self, record: JobRecord) -> None:
        ttl = None
        if record.expires_at is not None:
            ttl = max(1, math.ceil(record.expires_at - time.time()))
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.set(PREFIX + "job:" + record.id, record.model_dump_json(), ex=ttl)
            pipe.zadd(PREFIX + "jobs", {record.id: record.created_at})
            if ttl is not None:
                pipe.expire(PREFIX + "cancel:" + record.id, ttl)
            await pipe.execute()

    async def get(self, job_id: str) -> JobRecord | None:
        raw = await self._client.get(PREFIX + "job:" + job_id)
        if raw is None:
            return None
        record = JobRecord.model_validate_json(raw)
        return record if live(record) else None

    async def list(self) -> list[JobRecord]:
        ids = [_text(i) for i in await self._client.zrange(PREFIX + "jobs", 0, -1)]
        if not ids:
            return []
        raws = await self._client.mget([PREFIX + "job:" + i for i in ids])
        gone = [i for i, raw in zip(ids, raws, strict=True) if raw is None]
        if gone:  # expired records: drop their ids from the index too
            await self._client.zrem(PREFIX + "jobs", *gone)
        records = [JobRecord.model_validate_json(raw) for raw in raws if raw is not None]
        return [r for r in records if live(r)]

    async def request_cancel(self, job_id: str) -> None:
        await self._client.set(PREFIX + "cancel:" + job_id, b"1", ex=30 * 86_400)

    async def cancel_requested(self, job_id: str) -> bool:
        return bool(await self._client.exists(PREFIX + "cancel:" + job_id))

    async def close(self) -> None:
        await self._client.aclose()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
