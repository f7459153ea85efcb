"""The bundle's Redis, run from the rendered config and args: mlapi's own code works as its ACL
user, everything else is refused, and cache writes never evict a job record."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.exceptions import AuthenticationError, NoPermissionError, ResponseError

from harness.servers import free_port, wait_for_port
from mlapi.cache import build_cache
from mlapi.fleet.desired import Desired
from mlapi.settings import Settings
from mlapi.shared.desired import RedisDesiredStore, build_desired_store
from mlapi.shared.jobs import RedisJobStore
from mlapi.training.build import build_store
from mlapi.training.schemas import JobRecord, TrainRequest
from mlapi.workers.poison import PoisonList
from tests.binaries import require_binary
from tests.k8s.conftest import find

PASSWORD = "acl-test-password"


class BundleRedis:
    def __init__(self, port: int, url: str) -> None:
        self.port = port
        self.url = url

    def client(self, **kwargs: Any) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)


def start_bundle_redis(
    docs: list[dict[str, Any]], workdir: Path, *extra: str
) -> tuple[subprocess.Popen[bytes], BundleRedis]:
    conf = find(docs, "ConfigMap", "mlapi-redis")["data"]["redis.conf"]
    # /data is the pod's emptyDir: here, the test's own folder.
    (workdir / "redis.conf").write_text(conf.replace("dir /data\n", f"dir {workdir}\n"))
    pod = find(docs, "Deployment", "mlapi-redis")["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert args[0] == "/etc/redis/redis.conf"
    args = [a.replace("$(REDIS_PASSWORD)", PASSWORD) for a in args[1:]]
    port = free_port()
    process = subprocess.Popen(
        [require_binary("redis-server"), str(workdir / "redis.conf"), *args]
        + ["--port", str(port), "--bind", "127.0.0.1", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
    except TimeoutError:
        process.kill()
        process.wait()
        raise
    url = find(docs, "ConfigMap", "mlapi")["data"]["MLAPI_REDIS_URL"]
    return process, BundleRedis(port, url.replace("mlapi-redis:6379", f"127.0.0.1:{port}"))


@pytest.fixture
def bundle_redis(
    rendered: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> Iterator[BundleRedis]:
    process, server = start_bundle_redis(rendered["prod"], tmp_path)
    try:
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)


def settings_for(server: BundleRedis, workdir: Path) -> Settings:
    """The bundle's Redis settings (a signing key where the service has that setting)."""
    signing = (
        {"redis_signing_key": "s" * 32} if "redis_signing_key" in Settings.model_fields else {}
    )
    return Settings(
        redis_url=server.url,
        redis_password=PASSWORD,
        cache_size=0,
        train_dir=workdir / "train",
        **signing,
    )


def job(job_id: str) -> JobRecord:
    now = time.time()
    return JobRecord(
        id=job_id,
        state="running",
        runner="kubernetes",
        model="m",
        request=TrainRequest(model="m", base_model="/base", dataset="/data.tsv"),
        owner="replica-a",
        output_path=f"/work/train/{job_id}/model",
        created_at=now,
        updated_at=now,
    )


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
        await store.put(job("j1"))
        assert (await store.get("j1")) is not None
        assert [r.id for r in await store.list()] == ["j1"]
        await store.request_cancel("j1")
        assert await store.cancel_requested("j1")
        await store.put(job("j1").model_copy(update={"expires_at": 1.0}))
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


def test_cache_writes_never_evict_a_job_record(
    rendered: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """The reproduction: a job record vanished under `allkeys-lru` after 40k cache writes."""
    process, server = start_bundle_redis(rendered["prod"], tmp_path, "--maxmemory", "4mb")
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
        process.terminate()
        process.wait(timeout=10)
