"""Job records in Redis: every replica sees the same jobs.

Records are signed (`mlapi.shared.signing`): one that fails the check is ignored, so writing to
Redis does not start, cancel or activate anything. They carry no Redis TTL, so the cache's eviction
policy (`volatile-lru`: keys with a TTL only) never drops them; expired records are deleted
when listed.

Writes are fenced: each write raises the record's generation by one, over the generation it was
read at only (WATCH/MULTI), and never moves its state backward (queued, running, then an end);
else `WriteConflict`. A replica remembers the newest record of each job it has read or written
and refuses an older one (a replay), counted in `mlapi_redis_records_stale_total`. What cannot be
read (a member that is not UTF-8, bad JSON, a key of another type) is skipped and counted in
`mlapi_redis_records_unreadable_total`.

`since` holds when this store began (signed): a job id (it starts with its creation time) older
than that is one whose record Redis lost, and `GET /train/{id}` says so.
"""

from __future__ import annotations

import time

from pydantic import ValidationError
from redis.exceptions import ResponseError, WatchError

from mlapi.errors import WriteConflict
from mlapi.observability import metrics
from mlapi.shared.stores import SignedRedis
from mlapi.training.schemas import JobRecord, created_at_of, forward
from mlapi.training.store import live

PREFIX = "mlapi:train:"
WHAT = "training job record"
SINCE = PREFIX + "since"


def _unreadable(what: str = WHAT) -> None:
    metrics.REDIS_UNREADABLE.labels(what=what).inc()


def _wrong_type(exc: ResponseError, what: str = WHAT) -> None:
    if "WRONGTYPE" not in str(exc):
        raise exc
    _unreadable(what)


class RedisJobStore:
    """`job:<id>` holds the record, `cancel:<id>` a cancel request, `jobs` the ids by age."""

    def __init__(self, redis: SignedRedis, *, timeout_s: float = 5.0) -> None:
        self._signer = redis.signer
        self._client = redis.open(timeout_s)
        self._seen: dict[str, JobRecord] = {}  # the newest record of each job read or written

    async def put(self, record: JobRecord) -> JobRecord:
        """Writes the next generation of `record` where the stored one is still the one
        `record` was made from (or none is stored); returns what was written."""
        key = PREFIX + "job:" + record.id
        written = record.model_copy(update={"generation": record.generation + 1})
        value = self._signer.seal(key, written.model_dump_json().encode())
        async with self._client.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                try:
                    stored = self._parse(record.id, await pipe.get(key))
                except ResponseError as exc:  # WRONGTYPE: junk, overwritten by the SET below
                    _wrong_type(exc)
                    stored = None
                known = self._newer(stored, self._seen.get(record.id))
                if known is not None and (
                    known.generation != record.generation or not forward(known.state, record.state)
                ):
                    raise WriteConflict(
                        f"job {record.id} is at generation {known.generation} ({known.state}), "
                        f"not {record.generation}: another replica wrote it first"
                    )
                pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
                pipe.set(key, value)
                pipe.zadd(PREFIX + "jobs", {record.id: record.created_at})
                pipe.set(SINCE, self._since_value(time.time()), nx=True)
                await pipe.execute()
            except WatchError:
                raise WriteConflict(
                    f"job {record.id} changed while it was written; nothing was overwritten"
                ) from None
        self._seen[record.id] = written
        return written

    @staticmethod
    def _newer(a: JobRecord | None, b: JobRecord | None) -> JobRecord | None:
        if a is None or b is None:
            return a or b
        return a if a.generation >= b.generation else b

    def _parse(self, job_id: str, raw: object) -> JobRecord | None:
        if not isinstance(raw, bytes | str):
            return None
        key = PREFIX + "job:" + job_id
        payload = self._signer.open(key, raw, WHAT)
        if payload is None:
            return None
        try:
            record = JobRecord.model_validate_json(payload)
        except ValidationError:  # bad JSON, or signed by a replica of another version
            _unreadable()
            return None
        return record if record.id == job_id else None

    def _record(self, job_id: str, raw: object) -> JobRecord | None:
        """The record read, or the newer one this replica has seen (a replay is refused)."""
        record = self._parse(job_id, raw)
        seen = self._seen.get(job_id)
        if record is not None and seen is not None and record.generation < seen.generation:
            metrics.REDIS_STALE.labels(what=WHAT).inc()
            return seen
        if record is not None:
            self._seen[job_id] = record
        return record

    async def get(self, job_id: str) -> JobRecord | None:
        try:
            raw = await self._client.get(PREFIX + "job:" + job_id)
        except ResponseError as exc:
            _wrong_type(exc)
            return None
        record = self._record(job_id, raw)
        return record if record is not None and live(record) else None

    async def list(self) -> list[JobRecord]:
        try:
            members = await self._client.zrange(PREFIX + "jobs", 0, -1)
        except ResponseError as exc:
            _wrong_type(exc)
            return []
        ids: list[str] = []
        for member in members:
            try:
                ids.append(member.decode() if isinstance(member, bytes) else str(member))
            except UnicodeDecodeError:
                _unreadable()
        if not ids:
            return []
        raws = await self._client.mget([PREFIX + "job:" + i for i in ids])
        records: list[JobRecord] = []
        gone: list[str] = []
        for job_id, raw in zip(ids, raws, strict=True):
            record = self._record(job_id, raw) if raw is not None else None
            if raw is None or (record is not None and not live(record)):
                gone.append(job_id)
                self._seen.pop(job_id, None)
            elif record is not None:
                records.append(record)
        if gone:  # expired records: dropped with their index entries and cancel flags
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zrem(PREFIX + "jobs", *gone)
                pipe.delete(*(PREFIX + k + i for i in gone for k in ("job:", "cancel:")))
                await pipe.execute()
        return records

    async def request_cancel(self, job_id: str) -> None:
        """One-way and bound to the job's key: a replayed request can only cancel that job,
        which an admin asked for already; after its end it does nothing."""
        key = PREFIX + "cancel:" + job_id
        await self._client.set(key, self._signer.seal(key, b"cancel"))

    async def cancel_requested(self, job_id: str) -> bool:
        key = PREFIX + "cancel:" + job_id
        try:
            raw = await self._client.get(key)
        except ResponseError as exc:
            _wrong_type(exc, "cancel request")
            return False
        return self._signer.open(key, raw, "cancel request") == b"cancel"

    def _since_value(self, at: float) -> bytes:
        return self._signer.seal(SINCE, repr(at).encode())

    async def lost_since(self, job_id: str) -> float | None:
        """When this store began, where `job_id` was created before that: its record was lost
        with Redis's data. None for a job created since (unknown, or expired)."""
        created = created_at_of(job_id)
        if created is None:
            return None
        try:
            await self._client.set(SINCE, self._since_value(time.time()), nx=True)
            payload = self._signer.open(SINCE, await self._client.get(SINCE), "job store start")
        except ResponseError as exc:
            _wrong_type(exc, "job store start")
            return None
        try:
            since = float(payload) if payload is not None else None
        except ValueError:
            return None
        return since if since is not None and created < since - 1 else None

    async def close(self) -> None:
        await self._client.aclose()
