"""Job records in Redis: every replica sees the same jobs.

Records are signed (`mlapi.shared.signing`): one that fails the check is ignored, so writing to
Redis does not start, cancel or activate anything. They carry no Redis TTL, so the cache's eviction
policy (`volatile-lru`: keys with a TTL only) never drops them; expired records are deleted
when listed.
"""

from __future__ import annotations

from pydantic import ValidationError

from mlapi.shared.stores import SignedRedis
from mlapi.training.schemas import JobRecord
from mlapi.training.store import live

PREFIX = "mlapi:train:"


class RedisJobStore:
    """`job:<id>` holds the record, `cancel:<id>` a cancel request, `jobs` the ids by age."""

    def __init__(self, redis: SignedRedis, *, timeout_s: float = 5.0) -> None:
        self._signer = redis.signer
        self._client = redis.open(timeout_s)

    async def put(self, record: JobRecord) -> None:
        key = PREFIX + "job:" + record.id
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.set(key, self._signer.seal(key, record.model_dump_json().encode()))
            pipe.zadd(PREFIX + "jobs", {record.id: record.created_at})
            await pipe.execute()

    def _record(self, job_id: str, raw: bytes | str | None) -> JobRecord | None:
        key = PREFIX + "job:" + job_id
        payload = self._signer.open(key, raw, "training job record")
        if payload is None:
            return None
        try:
            record = JobRecord.model_validate_json(payload)
        except ValidationError:  # signed by a replica of another version: not ours to run
            return None
        return record if record.id == job_id else None

    async def get(self, job_id: str) -> JobRecord | None:
        record = self._record(job_id, await self._client.get(PREFIX + "job:" + job_id))
        return record if record is not None and live(record) else None

    async def list(self) -> list[JobRecord]:
        ids = [_text(i) for i in await self._client.zrange(PREFIX + "jobs", 0, -1)]
        if not ids:
            return []
        raws = await self._client.mget([PREFIX + "job:" + i for i in ids])
        records: list[JobRecord] = []
        gone: list[str] = []
        for job_id, raw in zip(ids, raws, strict=True):
            record = self._record(job_id, raw) if raw is not None else None
            if raw is None or (record is not None and not live(record)):
                gone.append(job_id)
            elif record is not None:
                records.append(record)
        if gone:  # expired records: dropped with their index entries and cancel flags
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zrem(PREFIX + "jobs", *gone)
                pipe.delete(*(PREFIX + k + i for i in gone for k in ("job:", "cancel:")))
                await pipe.execute()
        return records

    async def request_cancel(self, job_id: str) -> None:
        key = PREFIX + "cancel:" + job_id
        await self._client.set(key, self._signer.seal(key, b"cancel"))

    async def cancel_requested(self, job_id: str) -> bool:
        key = PREFIX + "cancel:" + job_id
        return self._signer.open(key, await self._client.get(key), "cancel request") == b"cancel"

    async def close(self) -> None:
        await self._client.aclose()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
