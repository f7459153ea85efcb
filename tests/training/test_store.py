"""Both job stores keep, list, expire and flag records the same way (Redis: a real server)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.servers import RedisServer
from mlapi.shared.jobs import RedisJobStore
from mlapi.shared.signing import Signer
from mlapi.shared.stores import SignedRedis
from mlapi.training.schemas import JobRecord, TrainRequest
from mlapi.training.store import JobStore, SQLiteJobStore
from tests.waiting import async_wait_until


def record(job_id: str, created: float, expires: float | None = None) -> JobRecord:
    request = TrainRequest(model="m", base_model="/base", dataset="/data.tsv")
    return JobRecord(
        id=job_id,
        state="queued" if expires is None else "succeeded",
        runner="local",
        model="m",
        request=request,
        owner="here",
        output_path=f"/train/{job_id}/model",
        created_at=created,
        updated_at=created,
        expires_at=expires,
    )


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStore]:
    if request.param == "sqlite":
        yield SQLiteJobStore(tmp_path / "jobs.sqlite3")
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    signed = SignedRedis(server.url, Signer("store-test-signing-key"), None, timeout_s=5.0)
    yield RedisJobStore(signed)


def test_put_get_list_in_age_order(store: JobStore) -> None:
    async def scenario() -> None:
        now = time.time()
        assert await store.list() == [] and await store.get("a") is None
        await store.put(record("b", now))
        first = await store.put(record("a", now - 10))
        assert [r.id for r in await store.list()] == ["a", "b"]
        updated = await store.put(first.model_copy(update={"state": "running"}))
        assert await store.get("a") == updated and updated.generation == 2
        await store.close()

    asyncio.run(scenario())


async def gone(store: JobStore) -> bool:
    return await store.get("gone") is None


def test_finished_records_expire(store: JobStore) -> None:
    async def scenario() -> None:
        now = time.time()
        await store.put(record("gone", now, expires=now + 1))
        await store.put(record("kept", now, expires=now + 60))
        await store.put(record("active", now + 1))
        assert {r.id for r in await store.list()} == {"gone", "kept", "active"}
        await async_wait_until(lambda: gone(store), "expiry of the record with a 1 s TTL")
        assert [r.id for r in await store.list()] == ["kept", "active"]
        await store.close()

    asyncio.run(scenario())


def test_a_cancel_request_survives_record_updates(store: JobStore) -> None:
    async def scenario() -> None:
        now = time.time()
        first = await store.put(record("a", now))
        assert not await store.cancel_requested("a")
        await store.request_cancel("a")
        await store.put(first.model_copy(update={"updated_at": now + 1}))
        assert await store.cancel_requested("a")
        await store.close()

    asyncio.run(scenario())


def test_sqlite_creates_no_file_until_a_job_is_written(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "jobs.sqlite3"
    store = SQLiteJobStore(path)
    assert asyncio.run(store.list()) == [] and not path.exists()
    asyncio.run(store.put(record("a", time.time())))
    assert path.is_file()
