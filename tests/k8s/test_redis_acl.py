"""The bundle's Redis, run from the rendered config, start script and ACL rules: mlapi's own code
works as its ACL user, everything else is refused, the password is on no command line, and cache
writes never evict a job record."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.exceptions import AuthenticationError, NoPermissionError, ResponseError

from mlapi.cache import build_cache
from mlapi.fleet.desired import Desired
from mlapi.shared.desired import RedisDesiredStore, build_desired_store
from mlapi.shared.jobs import RedisJobStore
from mlapi.training.build import build_store
from mlapi.workers.poison import PoisonList
from tests.k8s.redis_bundle import (
    PASSWORD,
    BundleRedis,
    NotStarted,
    job,
    settings_for,
    start_bundle_redis,
)


@pytest.fixture
def bundle_redis(
    rendered: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> Iterator[BundleRedis]:
    server = start_bundle_redis(rendered["prod"], tmp_path / "pod")
    try:
        yield server
    finally:
        server.stop()


def test_mlapi_code_runs_as_the_acl_user(bundle_redis: BundleRedis, tmp_path: Path) -> None:
    settings = settings_for(bundle_redis, tmp_path)

    async def scenario() -> None:
        cache = build_cache(settings, "f" * 16)
        await cache.set_many([("a text", b'[{"label":"POSITIVE","score":0.9}]')])
        assert await cache.get_many(["a text", "another"]) == [
            b'[{"label":"POSITIVE","score":0.9}]',
            None,
        ]
        assert all(getattr(t, "available", True) for t in cache.tiers)  # no command refused
        await cache.close()

        store = build_store(settings)
        assert isinstance(store, RedisJobStore)
        written = await store.put(job("j1"))
        assert (await store.get("j1")) is not None
        assert [r.id for r in await store.list()] == ["j1"]
        await store.request_cancel("j1")
        assert await store.cancel_requested("j1")
        await store.put(written.model_copy(update={"expires_at": 1.0}))
        assert await store.list() == []  # an expired record is deleted
        await store.close()

        desired = build_desired_store(settings)
        assert isinstance(desired, RedisDesiredStore)
        await desired.put(Desired(name="default", current=None))
        assert list(await desired.all()) == ["default"]
        await desired.close()

        poison = PoisonList("f" * 16, settings)
        await poison.add("a crashing text")
        fresh = PoisonList("f" * 16, settings)  # finds it in Redis, not in its own memory
        assert await fresh.find(["a crashing text", "fine"]) == {"a crashing text"}
        await poison.close()
        await fresh.close()

    asyncio.run(scenario())


def test_everything_else_is_refused(bundle_redis: BundleRedis) -> None:
    with pytest.raises((AuthenticationError, ResponseError)):
        bundle_redis.client(password=PASSWORD).ping()  # the default user is off
    with pytest.raises((AuthenticationError, ResponseError)):
        bundle_redis.client().ping()
    user = bundle_redis.client(username="mlapi", password=PASSWORD)
    assert user.ping()
    for command in (("FLUSHALL",), ("CONFIG", "GET", "*"), ("KEYS", "*"), ("EVAL", "return 1", 0)):
        with pytest.raises(NoPermissionError):
            user.execute_command(*command)
    with pytest.raises(NoPermissionError):
        user.get("other-app:key")  # keys outside mlapi:*
    with pytest.raises(NoPermissionError):
        user.publish("mlapi:channel", "x")
    user.close()


def test_the_password_is_on_no_command_line(bundle_redis: BundleRedis) -> None:
    """redis-server (the start script's process, after its exec) has neither the password nor
    a file holding it on its command line or in its environment; the ACL file has its hash."""
    pid = bundle_redis.process.pid
    assert PASSWORD not in " ".join(bundle_redis.argv)
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert cmdline.startswith(b"redis-server")  # exec'd: the same process, no shell around it
    assert PASSWORD.encode() not in cmdline
    assert PASSWORD.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
    acl = (bundle_redis.pod / "acl" / "users.acl").read_text()
    assert PASSWORD not in acl and "user mlapi on #" in acl
    assert bundle_redis.client(username="mlapi", password=PASSWORD).ping()


def test_an_empty_password_file_stops_the_start(
    rendered: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    with pytest.raises(NotStarted) as refused:
        start_bundle_redis(rendered["prod"], tmp_path / "pod", password="")
    assert refused.value.code != 0 and "Secret mlapi-redis" in refused.value.log


def test_cache_writes_never_evict_a_job_record(
    rendered: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """The reproduction: a job record vanished under `allkeys-lru` after 40k cache writes."""
    server = start_bundle_redis(rendered["prod"], tmp_path / "pod", "--maxmemory", "4mb")
    settings = settings_for(server, tmp_path)

    async def scenario() -> None:
        store = build_store(settings)
        assert isinstance(store, RedisJobStore)
        await store.put(job("kept"))
        cache = build_cache(settings, "e" * 16)
        value = b"[" + b"0.5," * 60 + b"0.5]"
        for start in range(0, 40_000, 500):
            await cache.set_many([(f"text {i}", value) for i in range(start, start + 500)])
        early = await cache.get_many([f"text {i}" for i in range(500)])
        assert None in early  # memory was short: cache entries were evicted
        assert (await store.get("kept")) is not None
        assert [r.id for r in await store.list()] == ["kept"]
        await cache.close()
        await store.close()

    try:
        asyncio.run(scenario())
    finally:
        server.stop()
